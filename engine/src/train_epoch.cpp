#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <filesystem>

#include "lenet5/engine/augment.h"
#include "lenet5/engine/evaluate.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/files/write.h"
#include "lenet5/model/loss.h"
#include "lenet5/run_files/file_names.h"
#include "training.h"

namespace lenet5::engine {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kWorstMistakes = 24;

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// The running sums of an epoch, kept on the device: read back only every options.log_every steps.
struct EpochSums {
  torch::Tensor loss, correct;
  explicit EpochSums(const torch::Device& device)
      : loss(torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device))),
        correct(torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device))) {}
};

// One optimiser step on `size` images from `begin` of `order`.
void train_step(Training& t, const torch::Tensor& order, int64_t begin, int64_t size, at::Generator& augment_generator,
                EpochSums& sums) {
  auto examples = t.data.train.batch(order.slice(0, begin, begin + size));
  auto images = t.options.augment ? random_affine(examples.data, augment_generator) : examples.data;
  clear_gradients(*t.optimizer);
  auto scores = t.net->forward(images);
  auto loss = model::classification_loss(scores, examples.target, t.variant);
  loss.backward();
  t.optimizer->step();
  torch::NoGradGuard no_grad;
  sums.loss += loss.detach().to(torch::kFloat64) * size;
  sums.correct += scores.argmax(1).eq(examples.target).sum();
}

// The progress after `batch` (0-based), reading the sums from the device; throws TrainingDiverged on a
// loss that is no longer finite.
void report_progress(Training& t, int64_t epoch, int64_t batch, int64_t seen, const EpochSums& sums,
                     Clock::time_point epoch_start) {
  const double images = static_cast<double>(seen);
  const double mean_loss = sums.loss.item<double>() / images;
  if (!std::isfinite(mean_loss)) {
    throw TrainingDiverged("training diverged: the loss became " + std::to_string(mean_loss) + " at epoch " +
                           std::to_string(epoch) + ", batch " + std::to_string(batch + 1) +
                           " (try a lower --lr); the last good checkpoint is " + t.checkpoint_path);
  }
  const double elapsed = seconds_since(epoch_start);
  const auto n = static_cast<double>(t.data.train.length());
  t.observer.on_progress({epoch, t.options.epochs, batch + 1, t.steps_per_epoch, mean_loss,
                          static_cast<double>(sums.correct.item<int64_t>()) / images, images / elapsed,
                          elapsed / images * n - elapsed});
}

Evaluation evaluate_test_set(Training& t) {
  EvaluateOptions test_options;
  test_options.batch_size = t.options.eval_batch_size;
  test_options.worst_mistakes = kWorstMistakes;
  const auto test_start = Clock::now();
  test_options.on_progress = [&](int64_t done, int64_t total) {
    t.observer.on_evaluation_progress(done, total, seconds_since(test_start));
  };
  return evaluate(t.net, t.data.test, test_options);
}

}  // namespace

double selection_accuracy(const EpochMetrics& m) { return m.val_accuracy ? *m.val_accuracy : m.test_accuracy; }

bool stop_requested(const TrainOptions& options) {
  return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
}

EpochTraining train_epoch(Training& t, int64_t epoch, Clock::time_point epoch_start) {
  t.net->train();
  const int64_t n = t.data.train.length();
  const auto order = data::epoch_permutation(n, t.options.seed, epoch, t.device);
  auto augment_generator = at::detail::createCPUGenerator(t.options.seed * 1000003ULL + static_cast<uint64_t>(epoch));
  EpochSums sums(t.device);
  EpochTraining result;
  result.lr = t.base_lr;
  for (int64_t batch = 0; batch < t.steps_per_epoch; ++batch) {
    if (stop_requested(t.options)) throw stopped(t.run_dir, epoch - 1, t.options.epochs);
    const int64_t begin = batch * t.options.batch_size;
    const int64_t size = std::min(t.options.batch_size, n - begin);
    result.lr = learning_rate_at(t.schedule, t.base_lr, (epoch - 1) * t.steps_per_epoch + batch, t.steps_per_epoch,
                                 t.total_steps);
    set_learning_rate(*t.optimizer, result.lr);
    train_step(t, order, begin, size, augment_generator, sums);
    const bool last = batch + 1 == t.steps_per_epoch;
    if ((batch + 1) % t.options.log_every == 0 || last) {  // the only host syncs of the epoch
      report_progress(t, epoch, batch, begin + size, sums, epoch_start);
    }
  }
  result.seconds = seconds_since(epoch_start);
  result.loss = sums.loss.item<double>() / static_cast<double>(n);
  result.accuracy = static_cast<double>(sums.correct.item<int64_t>()) / static_cast<double>(n);
  return result;
}

EpochMetrics end_epoch(Training& t, int64_t epoch, const EpochTraining& training, Clock::time_point epoch_start) {
  const auto n = static_cast<double>(t.data.train.length());
  EpochMetrics metrics;
  metrics.epoch = epoch;
  metrics.train_loss = training.loss;
  metrics.train_accuracy = training.accuracy;
  const auto test = evaluate_test_set(t);
  metrics.test_loss = test.loss;
  metrics.test_accuracy = test.accuracy;
  if (t.data.val) {
    const auto val = evaluate(t.net, *t.data.val, {t.options.eval_batch_size, 0, nullptr, ""});
    metrics.val_loss = val.loss;
    metrics.val_accuracy = val.accuracy;
  }
  metrics.lr = training.lr;
  metrics.seconds = seconds_since(epoch_start);
  metrics.images_per_second = n / training.seconds;
  t.history.push_back(metrics);

  // Metrics and best.pt first, the checkpoint last: after a crash in between, resume drops the metrics
  // line and redoes the epoch, writing best.pt again if it was the best.
  const fs::path run(t.run_dir);
  files::write_file_atomically((run / run_files::kEvaluation).string(), evaluation_json(test) + "\n");
  files::write_file_atomically((run / run_files::kMetrics).string(), run_files::metrics_text(t.history));
  const CheckpointInfo info{t.variant, t.options.dataset, epoch, metrics.test_accuracy, t.config_json};
  if (selection_accuracy(metrics) > t.best) {
    t.best = selection_accuracy(metrics);
    save_checkpoint((run / run_files::kBest).string(), t.net, nullptr, info);
  }
  save_checkpoint(t.checkpoint_path, t.net, t.optimizer.get(), info);
  return metrics;
}

}  // namespace lenet5::engine
