#include "lenet5/engine/trainer.h"

#include <cmath>
#include <filesystem>
#include <mutex>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/engine/sharding.h"
#include "lenet5/engine/threads.h"
#include "lenet5/files/write.h"
#include "lenet5/run_files/epoch_record.h"
#include "lenet5/run_files/run_folder.h"
#include "run_config.h"
#include "training.h"

namespace lenet5::engine {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Beyond these a flag value is a mistake (or an attack): steps would overflow, thread creation would stall.
constexpr int64_t kMaxEpochs = 1000000;

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& options, model::LeNet5& net, double lr) {
  auto parameters = net->parameters();
  const OptimizerKind kind = options.optimizer;
  if (kind == OptimizerKind::kSgd) {
    return std::make_unique<torch::optim::SGD>(parameters, torch::optim::SGDOptions(lr)
                                                               .momentum(options.momentum)
                                                               .nesterov(options.momentum > 0)
                                                               .weight_decay(options.weight_decay));
  }
  if (kind == OptimizerKind::kAdam) {
    return std::make_unique<torch::optim::Adam>(parameters,
                                                torch::optim::AdamOptions(lr).weight_decay(options.weight_decay));
  }
  return std::make_unique<FlatAdamW>(net->named_parameters(),
                                     torch::optim::AdamWOptions(lr).weight_decay(options.weight_decay));
}

}  // namespace

const std::vector<std::pair<std::string, OptimizerKind>>& optimizer_names() {
  static const std::vector<std::pair<std::string, OptimizerKind>> table = {
      {"sgd", OptimizerKind::kSgd}, {"adam", OptimizerKind::kAdam}, {"adamw", OptimizerKind::kAdamW}};
  return table;
}

OptimizerKind parse_optimizer(const std::string& name) {
  for (const auto& [known, kind] : optimizer_names()) {
    if (known == name) return kind;
  }
  throw std::invalid_argument("--optimizer: unknown optimiser '" + name + "': expected sgd, adam or adamw");
}

std::string optimizer_name(OptimizerKind kind) {
  for (const auto& [name, known] : optimizer_names()) {
    if (known == kind) return name;
  }
  return "?";
}

double learning_rate_scale(OptimizerKind optimizer, int world_size) {
  const auto ranks = static_cast<double>(world_size);
  return optimizer == OptimizerKind::kSgd ? ranks : std::sqrt(ranks);
}

double recommended_learning_rate(OptimizerKind optimizer, model::Variant variant) {
  const bool classic = variant == model::Variant::kClassic;
  if (optimizer == OptimizerKind::kSgd) return classic ? 0.02 : 0.05;
  return classic ? 2e-3 : 3e-3;
}

void validate(const TrainOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
  };
  require(o.epochs >= 1, "--epochs: must be at least 1, got " + std::to_string(o.epochs));
  require(o.epochs <= kMaxEpochs,
          "--epochs: must be at most " + std::to_string(kMaxEpochs) + ", got " + std::to_string(o.epochs));
  require(o.batch_size >= 1, "--batch-size: must be at least 1, got " + std::to_string(o.batch_size));
  require(o.lr >= 0 && std::isfinite(o.lr), "--lr: must be a positive number, got " + std::to_string(o.lr));
  require(o.momentum >= 0 && o.momentum < 1, "--momentum: must be in [0, 1), got " + std::to_string(o.momentum));
  require(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "--weight-decay: must be >= 0");
  require(o.val_split >= 0 && o.val_split < 1, "--val-split: must be in [0, 1), got " + std::to_string(o.val_split));
  require(o.threads >= 0, "--threads: must be >= 0, got " + std::to_string(o.threads));
  require(o.threads <= kMaxThreads,
          "--threads: must be at most " + std::to_string(kMaxThreads) + ", got " + std::to_string(o.threads));
  require(o.target_accuracy >= 0 && o.target_accuracy <= 1,
          "--target-accuracy: must be a percentage in (0, 100], got " + std::to_string(100 * o.target_accuracy));
  require(o.log_every >= 1, "log interval must be at least 1");
  require(o.eval_batch_size >= 1, "evaluation batch size must be at least 1");
  require(!o.data_dir.empty(), "--data: a dataset folder is required");
  require(!o.resume || !o.out_dir.empty(), "--resume: needs --out RUN_DIR, the run to continue");
}

namespace {

std::string resume_command(const std::string& run_dir) {
  const bool plain = run_dir.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:") == std::string::npos;
  std::string quoted = "'";
  for (char c : run_dir) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return "lenet5 train --resume --out " + (plain ? run_dir : quoted + "'");
}

// The answer for a resumed run that had nothing left to do.
TrainResult already_complete(const std::string& run_dir, const std::vector<EpochMetrics>& history) {
  TrainResult result;
  result.run_dir = run_dir;
  result.history = history;
  for (const auto& m : history) result.best_test_accuracy = std::max(result.best_test_accuracy, m.test_accuracy);
  result.already_complete = true;
  return result;
}

// The limits apply before the files are read.
Datasets load_datasets(const TrainOptions& options, const torch::Device& device) {
  Datasets data{data::MnistDataset(options.data_dir, data::Split::kTrain, options.train_limit),
                data::MnistDataset(options.data_dir, data::Split::kTest, options.test_limit), std::nullopt};
  if (options.val_split > 0) {
    if (data.train.length() < 2) {
      throw std::invalid_argument("--val-split: the training set holds " + std::to_string(data.train.length()) +
                                  " image(s), too few to hold any out");
    }
    auto [kept, held_out] = data.train.split(options.val_split, options.seed);
    data.train = kept;
    data.val = held_out.to(device);
  }
  data.train = data.train.to(device);
  data.test = data.test.to(device);
  return data;
}

// Every rank starts from rank 0's parameters (they agree already when built from the same seed or checkpoint;
// this makes it so whatever the ranks' kernels did).
void broadcast_parameters(Collective& group, model::LeNet5& net) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  for (const auto& p : net->parameters()) flat.push_back(p.reshape(-1));
  auto all = torch::cat(flat);
  group.broadcast(all, 0);
  int64_t offset = 0;
  for (auto& p : net->parameters()) {
    p.copy_(all.slice(0, offset, offset + p.numel()).view_as(p));
    offset += p.numel();
  }
}

// The network and optimiser (restored from the checkpoint when resuming), then config.json, metrics.jsonl and,
// for a new run, the checkpoint of epoch 0: from the first step on, the folder holds a run that resumes.
void prepare_model(Training& t, RunStart& start) {
  {
    // The initial weights come from torch's process-wide generator: two trainings in one process (ranks run as
    // threads, or a program that trains two models) must not interleave their draws, or the seed decides nothing.
    static std::mutex default_generator_user;
    const std::lock_guard<std::mutex> lock(default_generator_user);
    torch::manual_seed(t.options.seed);
    t.net = model::LeNet5(t.variant);
  }
  move_model_to(t.net, t.device);
  t.optimizer = make_optimizer(t.options, t.net, t.base_lr);
  t.history = start.history;
  json config;
  if (start.resumed) {
    torch::NoGradGuard no_grad;
    auto source = start.resumed->model->named_parameters();
    for (auto& parameter : t.net->named_parameters()) parameter.value().copy_(source[parameter.key()]);
    load_optimizer_state(t.checkpoint_path, *t.optimizer, t.device);
    config = record_resume(start.config, t.options, start.first_epoch, t.device);
  } else {
    config = run_config_json(t.options, t.run_dir, t.device);
  }
  t.config_json = config.dump();
  if (t.group != nullptr) {
    broadcast_parameters(*t.group, t.net);
    auto* flat = dynamic_cast<FlatAdamW*>(t.optimizer.get());
    if (flat != nullptr && flat->is_flat())
      t.buckets = std::make_unique<GradientBuckets>(*t.group, *flat, t.options.all_reduce_bucket_bytes);
  }
  for (const auto& m : t.history) t.best = std::max(t.best, selection_accuracy(m));
  if (!writes_run_folder(t)) return;
  files::write_file_atomically((fs::path(t.run_dir) / run_files::kMetrics).string(),
                               run_files::metrics_text(t.history));
  files::write_file_atomically((fs::path(t.run_dir) / run_files::kConfig).string(), config.dump(2) + "\n");
  if (!start.resumed)
    save_checkpoint(t.checkpoint_path, t.net, t.optimizer.get(), {t.variant, t.options.dataset, 0, -1, t.config_json});
}

// Epochs from `first_epoch` on, until the last planned, the target accuracy (noted in `result`) or a stop;
// returns the training images seen.
int64_t run_epochs(Training& t, int64_t first_epoch, TrainResult& result) {
  const TrainOptions& options = t.options;
  int64_t images = 0;
  const int64_t last_epoch =
      options.stop_after_epochs > 0 ? std::min(options.epochs, options.stop_after_epochs) : options.epochs;
  for (int64_t epoch = first_epoch; epoch <= last_epoch; ++epoch) {
    const auto epoch_start = Clock::now();
    const EpochTraining training = train_epoch(t, epoch, epoch_start);
    t.observer.on_epoch_trained(epoch, t.net, *t.optimizer);
    images += t.data.train.length();
    const EpochMetrics metrics = end_epoch(t, epoch, training, epoch_start);
    t.observer.on_epoch_end(metrics);
    if (options.target_accuracy > 0 && metrics.test_accuracy >= options.target_accuracy) {
      result.target_reached_epoch = epoch;
      break;
    }
    // In a group the ranks agree on stopping at the next epoch's first step instead (train_epoch).
    if (epoch < last_epoch && t.group == nullptr && stop_requested(options)) {
      throw stopped(t.run_dir, epoch, options.epochs);
    }
  }
  return images;
}

}  // namespace

Training::Training(const TrainOptions& options, TrainObserver& observer, const torch::Device& device,
                   std::string run_dir, Datasets data)
    : options(options),
      observer(observer),
      group(options.collective),
      rank(group != nullptr ? group->rank() : 0),
      world_size(group != nullptr ? group->world_size() : 1),
      device(device),
      variant(options.variant),
      schedule(options.schedule),
      base_lr(resolved_learning_rate(options) * learning_rate_scale(options.optimizer, world_size)),
      run_dir(std::move(run_dir)),
      checkpoint_path((fs::path(this->run_dir) / run_files::kCheckpoint).string()),
      data(std::move(data)),
      global_batch(global_batch_of(this->data.train.length(), options.batch_size, world_size)),
      steps_per_epoch((this->data.train.length() - 1) / global_batch + 1),
      total_steps(steps_per_epoch * options.epochs) {}

TrainingStopped stopped(const std::string& run_dir, int64_t saved_epoch, int64_t epochs) {
  return TrainingStopped("training stopped; " + (fs::path(run_dir) / run_files::kCheckpoint).string() +
                             " holds epoch " + std::to_string(saved_epoch) + " of " + std::to_string(epochs) +
                             "; resume with: " + resume_command(run_dir),
                         run_dir);
}

TrainResult train(const TrainOptions& options, TrainObserver* observer) {
  validate(options);
  TrainObserver silent;
  set_cpu_threads(options.threads);
  TrainObserver& report = observer != nullptr ? *observer : silent;
  const torch::Device device = resolve_device(options.device);
  // The run folder must be usable before any time is spent training; it stays locked until train() returns.
  // Rank 0 alone holds it; the other ranks read it (a resume) and learn its path from rank 0.
  std::optional<run_files::RunFolder> folder;
  const bool rank0 = options.collective == nullptr || options.collective->rank() == 0;
  if (rank0) folder.emplace(options.out_dir, options.resume, "runs", model::variant_name(options.variant));
  std::string run_dir = rank0 ? folder->path() : "";
  if (options.collective != nullptr) run_dir = options.collective->share_from_rank0(run_dir);
  RunStart start = options.resume ? resume_run(options, run_dir) : RunStart{};
  if (options.resume && is_complete(options, start.history)) {
    const TrainResult result = already_complete(run_dir, start.history);
    report.on_finish(result);
    return result;
  }
  Training t(options, report, device, run_dir, load_datasets(options, device));
  prepare_model(t, start);
  t.observer.on_start(t.run_dir, t.device.str(), start.first_epoch);

  TrainResult result;
  result.run_dir = t.run_dir;
  const auto run_start = Clock::now();
  const int64_t images_this_run = run_epochs(t, start.first_epoch, result);
  result.history = t.history;
  for (const auto& m : t.history) result.best_test_accuracy = std::max(result.best_test_accuracy, m.test_accuracy);
  result.seconds = seconds_since(run_start);
  result.images_per_second = result.seconds > 0 ? static_cast<double>(images_this_run) / result.seconds : 0.0;
  t.observer.on_finish(result);
  return result;
}

}  // namespace lenet5::engine
