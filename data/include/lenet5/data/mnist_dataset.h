// MNIST-format datasets (MNIST, Fashion-MNIST) as preloaded tensors that serve whole batches.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "lenet5/data/dataset_files.h"

namespace lenet5::data {

// Images as float32 [N,1,28,28] with pixel values in [0,1] (ink high), labels as int64 [N].
// All model-specific preprocessing (normalisation, padding) lives in the model, so every consumer
// (training, export, predict) feeds the same contract.
class MnistDataset : public torch::data::datasets::BatchDataset<MnistDataset, torch::data::Example<>> {
 public:
  // `limit` > 0: only the first `limit` samples are read from the files (and converted).
  MnistDataset(const std::string& root, Split split, int64_t limit = 0);
  MnistDataset(torch::Tensor images, torch::Tensor targets);

  // One index_select per batch on the preloaded tensors; `indices` lives on the data's device.
  torch::data::Example<> batch(const torch::Tensor& indices) const;
  torch::data::Example<> get_batch(c10::ArrayRef<size_t> indices) override;
  c10::optional<size_t> size() const override { return static_cast<size_t>(images_.size(0)); }
  int64_t length() const { return images_.size(0); }

  const torch::Tensor& images() const { return images_; }
  const torch::Tensor& targets() const { return targets_; }

  MnistDataset to(torch::Device device) const;
  MnistDataset slice(int64_t begin, int64_t end) const;
  // A seeded random split: the first holds (1 - fraction) of the samples, the second `fraction`.
  std::pair<MnistDataset, MnistDataset> split(double fraction, uint64_t seed) const;

 private:
  torch::Tensor images_;
  torch::Tensor targets_;
};

// The order of samples for one epoch: a permutation that depends only on (seed, epoch), so a resumed
// run sees the same batches as an uninterrupted one.
torch::Tensor epoch_permutation(int64_t size, uint64_t seed, int64_t epoch, torch::Device device);

}  // namespace lenet5::data
