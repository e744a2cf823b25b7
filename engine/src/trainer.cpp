#include "lenet5/engine/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/engine/augment.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/evaluate.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/engine/run_files.h"
#include "lenet5/engine/schedule.h"
#include "lenet5/engine/threads.h"
#include "lenet5/model/loss.h"
#include "run_config.h"

namespace lenet5::engine {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

constexpr int64_t kWorstMistakes = 24;
// Beyond these a flag value is a mistake (or an attack): steps would overflow, thread creation would stall.
constexpr int64_t kMaxEpochs = 1000000;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& options, model::LeNet5& net, double lr) {
  auto parameters = net->parameters();
  const OptimizerKind kind = parse_optimizer(options.optimizer);
  if (kind == OptimizerKind::kSgd) {
    return std::make_unique<torch::optim::SGD>(
        parameters, torch::optim::SGDOptions(lr).momentum(options.momentum).nesterov(options.momentum > 0)
                        .weight_decay(options.weight_decay));
  }
  if (kind == OptimizerKind::kAdam) {
    return std::make_unique<torch::optim::Adam>(parameters,
                                                torch::optim::AdamOptions(lr).weight_decay(options.weight_decay));
  }
  return std::make_unique<FlatAdamW>(parameters, torch::optim::AdamWOptions(lr).weight_decay(options.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

json metrics_json(const EpochMetrics& m) {
  json line{{"epoch", m.epoch},
            {"train_loss", m.train_loss},
            {"train_accuracy", m.train_accuracy},
            {"test_loss", m.test_loss},
            {"test_accuracy", m.test_accuracy},
            {"lr", m.lr},
            {"seconds", m.seconds},
            {"images_per_second", m.images_per_second}};
  if (m.val_accuracy) {
    line["val_loss"] = *m.val_loss;
    line["val_accuracy"] = *m.val_accuracy;
  }
  return line;
}

EpochMetrics metrics_from_json(const json& line) {
  EpochMetrics m;
  m.epoch = line.at("epoch").get<int64_t>();
  m.train_loss = line.at("train_loss").get<double>();
  m.train_accuracy = line.at("train_accuracy").get<double>();
  m.test_loss = line.at("test_loss").get<double>();
  m.test_accuracy = line.at("test_accuracy").get<double>();
  m.lr = line.at("lr").get<double>();
  m.seconds = line.at("seconds").get<double>();
  m.images_per_second = line.at("images_per_second").get<double>();
  if (line.contains("val_accuracy")) {
    m.val_loss = line.at("val_loss").get<double>();
    m.val_accuracy = line.at("val_accuracy").get<double>();
  }
  return m;
}

// Epochs 1..completed from metrics.jsonl; anything later (written after the last checkpoint) or unreadable
// (a line cut by a crash) is dropped.
std::vector<EpochMetrics> read_history(const std::string& path, int64_t completed) {
  std::vector<EpochMetrics> history;
  std::istringstream in(files::read_input(path, files::InputKind::kRunFile));
  std::string text;
  while (std::getline(in, text)) {
    try {
      auto m = metrics_from_json(json::parse(text));
      if (m.epoch == static_cast<int64_t>(history.size()) + 1 && m.epoch <= completed) history.push_back(m);
    } catch (const json::exception&) {
    }
  }
  return history;
}

std::string history_text(const std::vector<EpochMetrics>& history) {
  std::string text;
  for (const auto& m : history) text += metrics_json(m).dump() + "\n";
  return text;
}

// The score the best checkpoint is chosen by: validation accuracy when held out, else test accuracy.
double selection_accuracy(const EpochMetrics& m) { return m.val_accuracy ? *m.val_accuracy : m.test_accuracy; }

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

double recommended_learning_rate(const std::string& optimizer, const std::string& variant) {
  const bool classic = variant == "classic";
  if (optimizer == "sgd") return classic ? 0.02 : 0.05;
  return classic ? 2e-3 : 3e-3;
}

void validate(const TrainOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
  };
  data::parse_dataset_kind(o.dataset);
  model::parse_variant(o.variant);
  parse_schedule(o.schedule);
  parse_optimizer(o.optimizer);
  require(o.epochs >= 1, "--epochs: must be at least 1, got " + std::to_string(o.epochs));
  require(o.epochs <= kMaxEpochs, "--epochs: must be at most " + std::to_string(kMaxEpochs) + ", got " + std::to_string(o.epochs));
  require(o.batch_size >= 1, "--batch-size: must be at least 1, got " + std::to_string(o.batch_size));
  require(o.lr >= 0 && std::isfinite(o.lr), "--lr: must be a positive number, got " + std::to_string(o.lr));
  require(o.momentum >= 0 && o.momentum < 1, "--momentum: must be in [0, 1), got " + std::to_string(o.momentum));
  require(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "--weight-decay: must be >= 0");
  require(o.val_split >= 0 && o.val_split < 1, "--val-split: must be in [0, 1), got " + std::to_string(o.val_split));
  require(o.threads >= 0, "--threads: must be >= 0, got " + std::to_string(o.threads));
  require(o.threads <= kMaxThreads, "--threads: must be at most " + std::to_string(kMaxThreads) + ", got " + std::to_string(o.threads));
  require(o.target_accuracy >= 0 && o.target_accuracy <= 1,
          "--target-accuracy: must be a percentage in (0, 100], got " + std::to_string(100 * o.target_accuracy));
  require(o.log_every >= 1, "log interval must be at least 1");
  require(o.eval_batch_size >= 1, "evaluation batch size must be at least 1");
  require(!o.data_dir.empty(), "--data: a dataset folder is required");
  require(!o.resume || !o.out_dir.empty(), "--resume: needs --out RUN_DIR, the run to continue");
}

namespace {

// Where a run starts: epoch 1 of a new run, or the epoch after a resumed run's checkpoint.
struct RunStart {
  int64_t first_epoch = 1;
  std::vector<EpochMetrics> history;
  json config;                             // the run's config.json
  std::optional<LoadedCheckpoint> resumed;  // the checkpoint it continues from
};

bool is_complete(const TrainOptions& options, const std::vector<EpochMetrics>& history) {
  if (static_cast<int64_t>(history.size()) >= options.epochs) return true;
  return options.target_accuracy > 0 && !history.empty() && history.back().test_accuracy >= options.target_accuracy;
}

// The resumed run's settings, checkpoint and history, checked against each other before any data is read.
RunStart resume_run(const TrainOptions& options, const std::string& run_dir) {
  RunStart start;
  start.config = read_run_config(run_dir);
  check_resume_keeps_recipe(options, start.config, run_dir);
  const std::string checkpoint_path = (fs::path(run_dir) / run_file::kCheckpoint).string();
  start.resumed = load_checkpoint(checkpoint_path);
  const auto& info = start.resumed->info;
  if (info.variant != model::parse_variant(options.variant)) {
    throw CheckpointError(checkpoint_path + ": holds a " + model::variant_name(info.variant) +
                          " model, but the run's config.json says " + options.variant);
  }
  const auto saved_config = json::parse(info.config_json, nullptr, /*allow_exceptions=*/false);
  if (saved_config.is_object() && saved_config.value("optimizer", options.optimizer) != options.optimizer) {
    throw CheckpointError(checkpoint_path + ": holds the state of a " + saved_config.value("optimizer", "") +
                          " optimiser, but the run's config.json says " + options.optimizer);
  }
  const std::string metrics_path = (fs::path(run_dir) / run_file::kMetrics).string();
  start.history = read_history(metrics_path, info.epoch);
  if (static_cast<int64_t>(start.history.size()) != info.epoch) {
    throw std::runtime_error(metrics_path + ": holds " + std::to_string(start.history.size()) + " complete epochs, " +
                             checkpoint_path + " is at epoch " + std::to_string(info.epoch));
  }
  start.first_epoch = info.epoch + 1;
  return start;
}

std::string resume_command(const std::string& run_dir) {
  const bool plain = run_dir.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:") ==
                     std::string::npos;
  std::string quoted = "'";
  for (char c : run_dir) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return "lenet5 train --resume --out " + (plain ? run_dir : quoted + "'");
}

bool stop_requested(const TrainOptions& options) {
  return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
}

TrainingStopped stopped(const std::string& run_dir, int64_t saved_epoch, int64_t epochs) {
  return TrainingStopped("training stopped; " + (fs::path(run_dir) / run_file::kCheckpoint).string() + " holds epoch " +
                             std::to_string(saved_epoch) + " of " + std::to_string(epochs) +
                             "; resume with: " + resume_command(run_dir),
                         run_dir);
}

}  // namespace

TrainResult train(const TrainOptions& options, TrainObserver* observer) {
  validate(options);
  TrainObserver silent;
  TrainObserver& report = observer != nullptr ? *observer : silent;
  set_cpu_threads(options.threads);
  const torch::Device device = resolve_device(options.device);
  const model::Variant variant = model::parse_variant(options.variant);
  const Schedule schedule = parse_schedule(options.schedule);
  const double base_lr = resolved_learning_rate(options);

  // The run folder must be usable before any time is spent training; it stays locked until train() returns.
  const RunFolder folder(options.out_dir, options.resume, "runs", options.variant);
  const std::string& run_dir = folder.path();
  const std::string checkpoint_path = (fs::path(run_dir) / run_file::kCheckpoint).string();
  const std::string metrics_path = (fs::path(run_dir) / run_file::kMetrics).string();
  RunStart start = options.resume ? resume_run(options, run_dir) : RunStart{};
  TrainResult result;
  result.run_dir = run_dir;
  if (options.resume && is_complete(options, start.history)) {
    result.history = start.history;
    for (const auto& m : start.history) result.best_test_accuracy = std::max(result.best_test_accuracy, m.test_accuracy);
    result.already_complete = true;
    report.on_finish(result);
    return result;
  }

  // Data, resident on the training device; the limits apply before the files are read.
  data::MnistDataset train_set(options.data_dir, data::Split::kTrain, options.train_limit);
  data::MnistDataset test_set(options.data_dir, data::Split::kTest, options.test_limit);
  std::optional<data::MnistDataset> val_set;
  if (options.val_split > 0) {
    if (train_set.length() < 2) {
      throw std::invalid_argument("--val-split: the training set holds " + std::to_string(train_set.length()) +
                                  " image(s), too few to hold any out");
    }
    auto [kept, held_out] = train_set.split(options.val_split, options.seed);
    train_set = kept;
    val_set = held_out.to(device);
  }
  train_set = train_set.to(device);
  test_set = test_set.to(device);

  torch::manual_seed(options.seed);
  model::LeNet5 net(variant);
  move_model_to(net, device);
  auto optimizer = make_optimizer(options, net, base_lr);
  std::vector<EpochMetrics> history = start.history;
  const int64_t first_epoch = start.first_epoch;
  json config;
  if (start.resumed) {
    torch::NoGradGuard no_grad;
    auto source = start.resumed->model->named_parameters();
    for (auto& parameter : net->named_parameters()) parameter.value().copy_(source[parameter.key()]);
    load_optimizer_state(checkpoint_path, *optimizer, device);
    config = record_resume(start.config, options, first_epoch, device);
  } else {
    config = run_config_json(options, run_dir, device);
  }
  write_file_atomically(metrics_path, history_text(history));
  write_file_atomically((fs::path(run_dir) / run_file::kConfig).string(), config.dump(2) + "\n");
  // Epoch 0 (the initial weights) when new: from the first step on, the folder holds a run that resumes.
  if (!start.resumed) save_checkpoint(checkpoint_path, net, optimizer.get(), {variant, options.dataset, 0, -1, config.dump()});

  double best = -1;
  for (const auto& m : history) best = std::max(best, selection_accuracy(m));
  report.on_start(run_dir, device.str(), first_epoch);

  const int64_t n = train_set.length();
  const int64_t steps_per_epoch = (n - 1) / options.batch_size + 1;  // no overflow for any batch size
  const int64_t total_steps = steps_per_epoch * options.epochs;
  const auto run_start = Clock::now();
  int64_t images_this_run = 0;
  int64_t last_epoch = options.epochs;
  if (options.stop_after_epochs > 0) last_epoch = std::min(last_epoch, options.stop_after_epochs);

  for (int64_t epoch = first_epoch; epoch <= last_epoch; ++epoch) {
    net->train();
    const auto epoch_start = Clock::now();
    const auto order = data::epoch_permutation(n, options.seed, epoch, device);
    auto augment_generator = at::detail::createCPUGenerator(options.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    double lr = base_lr;
    for (int64_t batch = 0; batch < steps_per_epoch; ++batch) {
      if (stop_requested(options)) throw stopped(run_dir, epoch - 1, options.epochs);
      const int64_t begin = batch * options.batch_size;
      const int64_t size = std::min(options.batch_size, n - begin);
      auto examples = train_set.batch(order.slice(0, begin, begin + size));
      auto images = options.augment ? random_affine(examples.data, augment_generator) : examples.data;
      lr = learning_rate_at(schedule, base_lr, (epoch - 1) * steps_per_epoch + batch, steps_per_epoch, total_steps);
      set_learning_rate(*optimizer, lr);
      clear_gradients(*optimizer);
      auto scores = net->forward(images);
      auto loss = model::classification_loss(scores, examples.target, variant);
      loss.backward();
      optimizer->step();
      {
        torch::NoGradGuard no_grad;
        loss_sum += loss.detach().to(torch::kFloat64) * size;
        correct += scores.argmax(1).eq(examples.target).sum();
      }
      const bool last = batch + 1 == steps_per_epoch;
      if ((batch + 1) % options.log_every == 0 || last) {  // the only host syncs of the epoch
        const double seen = static_cast<double>(begin + size);
        const double mean_loss = loss_sum.item<double>() / seen;
        if (!std::isfinite(mean_loss)) {
          throw TrainingDiverged("training diverged: the loss became " + std::to_string(mean_loss) + " at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(batch + 1) +
                                 " (try a lower --lr); the last good checkpoint is " + checkpoint_path);
        }
        const double elapsed = seconds_since(epoch_start);
        report.on_progress({epoch, options.epochs, batch + 1, steps_per_epoch, mean_loss,
                            static_cast<double>(correct.item<int64_t>()) / seen, seen / elapsed,
                            elapsed / seen * static_cast<double>(n) - elapsed});
      }
    }
    const double train_seconds = seconds_since(epoch_start);
    images_this_run += n;

    EpochMetrics metrics;
    metrics.epoch = epoch;
    metrics.train_loss = loss_sum.item<double>() / static_cast<double>(n);
    metrics.train_accuracy = static_cast<double>(correct.item<int64_t>()) / static_cast<double>(n);
    EvaluateOptions test_options;
    test_options.batch_size = options.eval_batch_size;
    test_options.worst_mistakes = kWorstMistakes;
    const auto test_start = Clock::now();
    test_options.on_progress = [&](int64_t done, int64_t total) {
      report.on_evaluation_progress(done, total, seconds_since(test_start));
    };
    const auto test = evaluate(net, test_set, test_options);
    metrics.test_loss = test.loss;
    metrics.test_accuracy = test.accuracy;
    if (val_set) {
      const auto val = evaluate(net, *val_set, {options.eval_batch_size, 0, nullptr, ""});
      metrics.val_loss = val.loss;
      metrics.val_accuracy = val.accuracy;
    }
    metrics.lr = lr;
    metrics.seconds = seconds_since(epoch_start);
    metrics.images_per_second = static_cast<double>(n) / train_seconds;
    history.push_back(metrics);

    // Metrics and best.pt first, the checkpoint last: after a crash in between, resume drops the metrics
    // line and redoes the epoch, writing best.pt again if it was the best.
    write_file_atomically((fs::path(run_dir) / run_file::kEvaluation).string(), evaluation_json(test) + "\n");
    write_file_atomically(metrics_path, history_text(history));
    CheckpointInfo info{variant, options.dataset, epoch, metrics.test_accuracy, config.dump()};
    if (selection_accuracy(metrics) > best) {
      best = selection_accuracy(metrics);
      save_checkpoint((fs::path(run_dir) / run_file::kBest).string(), net, nullptr, info);
    }
    save_checkpoint(checkpoint_path, net, optimizer.get(), info);
    report.on_epoch_end(metrics);
    if (options.target_accuracy > 0 && metrics.test_accuracy >= options.target_accuracy) {
      result.target_reached_epoch = epoch;
      break;
    }
    if (epoch < last_epoch && stop_requested(options)) throw stopped(run_dir, epoch, options.epochs);
  }

  result.history = history;
  for (const auto& m : history) result.best_test_accuracy = std::max(result.best_test_accuracy, m.test_accuracy);
  result.seconds = seconds_since(run_start);
  result.images_per_second = result.seconds > 0 ? static_cast<double>(images_this_run) / result.seconds : 0.0;
  report.on_finish(result);
  return result;
}

}  // namespace lenet5::engine
