// MNIST-format datasets (MNIST, Fashion-MNIST) as preloaded tensors that serve whole batches.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace lenet5::data {

enum class Split { kTrain, kTest };
// The one name table of Split (`eval --split`).
const std::vector<std::pair<std::string, Split>>& split_names();
std::string split_name(Split split);

enum class DatasetKind { kMnist, kFashionMnist };

// The one name table of DatasetKind (command line, config.json, checkpoints, metadata.json).
const std::vector<std::pair<std::string, DatasetKind>>& dataset_kind_names();
DatasetKind parse_dataset_kind(const std::string& name);  // a name in the table; else std::invalid_argument
std::string dataset_kind_name(DatasetKind kind);
const std::vector<std::string>& class_names(DatasetKind kind);

// The canonical file of a split in `root` ("train-images-idx3-ubyte" or the same name + ".gz").
std::string find_split_file(const std::string& root, Split split, bool labels);

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
