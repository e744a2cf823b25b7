#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.h"
#include "lenet5/data/mnist_dataset.h"
#include "lenet5/deploy/export.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/evaluate.h"
#include "lenet5/engine/threads.h"
#include "progress.h"

namespace lenet5::app {
namespace {

struct EvalOptions {
  std::string checkpoint;
  std::string model;
  std::string data_dir;
  data::Split split = data::Split::kTest;
  std::string device = "auto";
  int64_t batch_size = 1000;
  int threads = engine::kDefaultThreads;
  bool json = false;
};

// The batch size, and a progress line on a terminal's stderr when scoring takes more than a second.
engine::EvaluateOptions evaluate_options(const EvalOptions& options, EvaluationProgress& progress) {
  engine::EvaluateOptions evaluate_options;
  evaluate_options.batch_size = options.batch_size;
  evaluate_options.model_name = options.model.empty() ? options.checkpoint : options.model;
  const auto start = std::chrono::steady_clock::now();
  evaluate_options.on_progress = [&progress, start](int64_t done, int64_t total) {
    progress.update(done, total, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  };
  return evaluate_options;
}

// An exported TorchScript model: the variant (for the loss), dataset and class names come from its metadata.
void run_eval_exported(const EvalOptions& options, const torch::Device& device, data::Split split) {
  auto exported = deploy::load_exported(options.model, device);
  const auto& metadata = exported.metadata;
  const auto dataset = data::MnistDataset(resolve_data_dir(options.data_dir, metadata.dataset), split).to(device);
  EvaluationProgress progress;
  const auto result = engine::evaluate([&](const torch::Tensor& x) { return exported.forward(x); }, dataset,
                                       metadata.variant, evaluate_options(options, progress));
  progress.clear();
  if (options.json) {
    std::cout << engine::evaluation_json(result) << "\n";
    return;
  }
  std::cout << options.model << ": " << model::variant_name(metadata.variant) << " LeNet-5 (TorchScript"
            << (metadata.optimized ? ", optimised" : "") << "), " << data::dataset_kind_name(metadata.dataset) << " "
            << data::split_name(options.split) << " split, epoch " << metadata.epoch;
  if (metadata.test_accuracy >= 0) {
    std::cout << ", test accuracy at export " << std::fixed << std::setprecision(2) << 100.0 * metadata.test_accuracy
              << "%";
  }
  std::cout << "\n" << engine::format_evaluation(result, metadata.class_names);
}

void run_eval(const EvalOptions& options) {
  engine::set_cpu_threads(options.threads);
  const torch::Device device = engine::resolve_device(options.device);
  const auto split = options.split;
  if (!options.model.empty()) {
    run_eval_exported(options, device, split);
    return;
  }
  auto loaded = load_checkpoint_flag(options.checkpoint, "evaluate it with --model " + options.checkpoint);
  engine::move_model_to(loaded.model, device);
  const auto dataset = data::MnistDataset(resolve_data_dir(options.data_dir, loaded.info.dataset), split).to(device);
  EvaluationProgress progress;
  const auto result = engine::evaluate(loaded.model, dataset, evaluate_options(options, progress));
  progress.clear();
  if (options.json) {
    std::cout << engine::evaluation_json(result) << "\n";
  } else {
    std::cout << options.checkpoint << ": " << model::variant_name(loaded.info.variant) << " LeNet-5, "
              << data::dataset_kind_name(loaded.info.dataset) << " " << data::split_name(options.split)
              << " split, epoch " << loaded.info.epoch << "\n"
              << engine::format_evaluation(result, data::class_names(loaded.info.dataset));
  }
}

}  // namespace

void setup_eval(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  auto* sub = app.add_subcommand("eval", "Accuracy, loss, per-class accuracy and confusion matrix of a model");
  auto* checkpoint =
      sub->add_option("--checkpoint", options->checkpoint, "Training checkpoint (checkpoint.pt, best.pt)");
  auto* model = sub->add_option("--model", options->model, "Exported TorchScript model");
  checkpoint->excludes(model);
  add_data_option(*sub, options->data_dir);
  add_enum_option(*sub, "--split", options->split, data::split_names(), "Which split to score");
  add_device_option(*sub, options->device);
  sub->add_option("--batch-size", options->batch_size, "Images per forward pass")
      ->check(whole_number(1, kMaxBatchSize))
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "CPU threads of every pool (0: one per core)")
      ->check(whole_number(0, kMaxThreads))
      ->capture_default_str();
  sub->add_flag("--json", options->json, "Print one JSON object");
  sub->callback([options] {
    if (options->checkpoint.empty() && options->model.empty()) {
      throw CLI::ValidationError("--checkpoint/--model", "one of --checkpoint FILE or --model FILE.pt is required");
    }
    require_data_source(options->data_dir);
    run_eval(*options);
  });
}

}  // namespace lenet5::app
