#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <filesystem>

#include "lenet5/engine/augment.h"
#include "lenet5/engine/evaluate.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/engine/sharding.h"
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

// Data-parallel training: every rank's gradients become the mean over the global batch. Each rank weighs its
// batch's mean gradient by its share of the global batch (`weight`), and all-reduces sum them: in buckets that
// overlap backward (GradientBuckets) for FlatAdamW, else once over a flat copy of the gradients after backward.
void all_reduce_gradients(Training& t, double weight) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  auto parameters = t.net->parameters();
  for (auto& p : parameters) {
    parts.push_back(p.grad().defined() ? p.grad().reshape(-1) : torch::zeros({p.numel()}, p.options()));
  }
  auto gradients = torch::cat(parts);
  if (weight != 1) gradients.mul_(weight);
  t.group->all_reduce_sum(gradients);
  int64_t offset = 0;
  for (auto& p : parameters) {
    p.mutable_grad() = gradients.slice(0, offset, offset + p.numel()).view_as(p);
    offset += p.numel();
  }
}

// One optimiser step on this rank's `size` images `indices` (of `global_size` over all ranks).
void train_step(Training& t, const torch::Tensor& indices, int64_t size, int64_t global_size,
                at::Generator& augment_generator, EpochSums& sums) {
  clear_gradients(*t.optimizer);
  const double weight = static_cast<double>(size) / static_cast<double>(global_size);
  if (t.buckets) t.buckets->begin_step(weight);
  if (size > 0) {  // a rank may have no image in an epoch's last, short step; it still takes part in the sum
    auto examples = t.data.train.batch(indices);
    auto images = t.options.augment ? random_affine(examples.data, augment_generator) : examples.data;
    auto scores = t.net->forward(images);
    auto loss = model::classification_loss(scores, examples.target, t.variant);
    loss.backward();
    torch::NoGradGuard no_grad;
    sums.loss += loss.detach().to(torch::kFloat64) * size;
    sums.correct += scores.argmax(1).eq(examples.target).sum();
  }
  if (t.buckets) {
    t.buckets->finish_step();
  } else if (t.group != nullptr) {
    all_reduce_gradients(t, weight);
  }
  t.optimizer->step();
}

// Whether to stop before batch `batch`: alone, whenever the stop flag is raised; in a group, every log_every
// steps, when any rank's flag is raised, so that all ranks stop before the same step.
bool stop_before(Training& t, int64_t batch) {
  if (t.group == nullptr) return stop_requested(t.options);
  if (batch % t.options.log_every != 0) return false;
  auto flag = torch::full({1}, stop_requested(t.options) ? 1.0F : 0.0F, torch::TensorOptions().device(t.device));
  t.group->all_reduce_sum(flag);
  return flag.item<float>() > 0;
}

// An epoch's sums over all ranks (each rank holds its shard's).
void all_reduce_sums(Training& t, EpochSums& sums) {
  if (t.group == nullptr) return;
  auto both = torch::stack({sums.loss, sums.correct.to(torch::kFloat64)});
  t.group->all_reduce_sum(both);
  sums.loss = both[0].clone();
  sums.correct = both[1].to(torch::kInt64);
}

// The progress after `batch` (0-based), reading the sums of this rank's `seen` images from the device; throws
// TrainingDiverged on a loss that is no longer finite. Rates and times are for the whole group.
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
  const double all_images = std::min(n, images * t.world_size);
  t.observer.on_progress({epoch, t.options.epochs, batch + 1, t.steps_per_epoch, mean_loss,
                          static_cast<double>(sums.correct.item<int64_t>()) / images, all_images / elapsed,
                          elapsed / all_images * n - elapsed});
}

Evaluation evaluate_test_set(Training& t) {
  EvaluateOptions test_options;
  test_options.batch_size = t.options.eval_batch_size;
  test_options.worst_mistakes = kWorstMistakes;
  test_options.group = t.group;
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
  int64_t seen = 0;  // this rank's images so far
  for (int64_t batch = 0; batch < t.steps_per_epoch; ++batch) {
    if (stop_before(t, batch)) throw stopped(t.run_dir, epoch - 1, t.options.epochs);
    const StepShard shard = step_shard(batch, n, t.global_batch, t.rank, t.world_size);
    const int64_t global_size = std::min(t.global_batch, n - batch * t.global_batch);
    const int64_t size = shard.size();
    const auto indices = shard.stride == 1 ? order.slice(0, shard.begin, shard.end)
                                           : order.slice(0, shard.begin, shard.end, shard.stride);
    result.lr = learning_rate_at(t.schedule, t.base_lr, (epoch - 1) * t.steps_per_epoch + batch, t.steps_per_epoch,
                                 t.total_steps);
    set_learning_rate(*t.optimizer, result.lr);
    train_step(t, indices, size, global_size, augment_generator, sums);
    seen += size;
    const bool last = batch + 1 == t.steps_per_epoch;
    if ((batch + 1) % t.options.log_every == 0 || last) {  // the only host syncs of the epoch
      report_progress(t, epoch, batch, std::max<int64_t>(seen, 1), sums, epoch_start);
    }
  }
  all_reduce_sums(t, sums);
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
    const auto val = evaluate(t.net, *t.data.val, {t.options.eval_batch_size, 0, nullptr, "", t.group});
    metrics.val_loss = val.loss;
    metrics.val_accuracy = val.accuracy;
  }
  metrics.lr = training.lr;
  metrics.seconds = seconds_since(epoch_start);
  metrics.images_per_second = n / training.seconds;
  t.history.push_back(metrics);
  if (!writes_run_folder(t)) {
    if (selection_accuracy(metrics) > t.best) t.best = selection_accuracy(metrics);
    return metrics;
  }

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
