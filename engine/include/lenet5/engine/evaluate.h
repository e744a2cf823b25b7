#pragma once

#include <torch/torch.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/engine/collective.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/run_files/evaluation_record.h"

namespace lenet5::engine {

// One of the most confidently wrong images, as evaluation.json lists it (lenet5_run_files).
using Mistake = run_files::MistakeRecord;

struct Evaluation {
  int64_t n = 0;
  double loss = 0;      // mean loss of the variant's criterion
  double accuracy = 0;  // fraction in [0,1]
  std::array<double, 10> per_class_accuracy{};
  std::array<std::array<int64_t, 10>, 10> confusion{};  // [true][predicted]
  std::vector<Mistake> worst_mistakes;                  // the most confidently wrong, most confident first
};

// Any scorer mapping [N,1,28,28] pixels in [0,1] to scores [N,10]: an eager model or a TorchScript module.
using Scorer = std::function<torch::Tensor(const torch::Tensor&)>;

// Scores `data` in batches (on the data's device) under InferenceMode; reads results from the device once.
// Non-finite scores (NaN or infinity) for any image throw std::runtime_error naming `model_name`.
struct EvaluateOptions {
  int64_t batch_size = 1000;
  int64_t worst_mistakes = 0;  // how many of the most confidently wrong samples to keep
  std::function<void(int64_t done, int64_t total)> on_progress;  // after each batch, when set
  std::string model_name;  // the file the model came from, starting error messages when not empty
  // Data-parallel: each rank of the group scores its contiguous share of the images and the counts are summed
  // over the group, so every rank returns the evaluation of the whole set. A collective call (all ranks call it).
  Collective* group = nullptr;
};

Evaluation evaluate(const Scorer& scorer, const data::MnistDataset& data, model::Variant variant,
                    const EvaluateOptions& options = {});
Evaluation evaluate(model::LeNet5& model, const data::MnistDataset& data, const EvaluateOptions& options = {});

// "7" where the class name is its index (digits), else "9 Ankle boot".
std::string class_label(int64_t label, const std::vector<std::string>& class_names);

std::string format_evaluation(const Evaluation& evaluation, const std::vector<std::string>& class_names);
// n, accuracy, loss, per_class_accuracy, confusion, and worst_mistakes when any were kept.
std::string evaluation_json(const Evaluation& evaluation);

}  // namespace lenet5::engine
