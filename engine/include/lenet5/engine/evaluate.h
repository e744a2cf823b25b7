#pragma once

#include <torch/torch.h>

#include <array>
#include <functional>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/model/lenet5.h"

namespace lenet5::engine {

struct Evaluation {
  int64_t n = 0;
  double loss = 0;      // mean loss of the variant's criterion
  double accuracy = 0;  // fraction in [0,1]
  std::array<double, 10> per_class_accuracy{};
  std::array<std::array<int64_t, 10>, 10> confusion{};  // [true][predicted]
};

// Any scorer mapping [N,1,28,28] pixels in [0,1] to scores [N,10]: an eager model or a TorchScript module.
using Scorer = std::function<torch::Tensor(const torch::Tensor&)>;

// Scores `data` in batches (on the data's device) under InferenceMode; reads results from the device once.
Evaluation evaluate(const Scorer& scorer, const data::MnistDataset& data, model::Variant variant,
                    int64_t batch_size = 1000);
Evaluation evaluate(model::LeNet5& model, const data::MnistDataset& data, int64_t batch_size = 1000);

std::string format_evaluation(const Evaluation& evaluation, const std::vector<std::string>& class_names);
std::string evaluation_json(const Evaluation& evaluation);

}  // namespace lenet5::engine
