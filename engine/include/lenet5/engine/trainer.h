#pragma once

#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lenet5/data/dataset_files.h"
#include "lenet5/engine/collective.h"
#include "lenet5/engine/schedule.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/run_files/epoch_record.h"

namespace lenet5::engine {

enum class OptimizerKind { kSgd, kAdam, kAdamW };
// The one name table of OptimizerKind (command line, config.json).
const std::vector<std::pair<std::string, OptimizerKind>>& optimizer_names();
OptimizerKind parse_optimizer(const std::string& name);  // a name in the table; else std::invalid_argument
std::string optimizer_name(OptimizerKind kind);

// Every setting of a training run; config.json records them all.
struct TrainOptions {
  std::string data_dir;
  data::DatasetKind dataset = data::DatasetKind::kMnist;
  model::Variant variant = model::Variant::kModern;
  int64_t epochs = 3;
  int64_t batch_size = 64;
  OptimizerKind optimizer = OptimizerKind::kAdamW;
  double lr = 0;            // 0: the recommended rate for the optimiser and variant
  double momentum = 0.9;    // sgd only
  double weight_decay = 0;  // decoupled for adamw, L2 for sgd/adam
  Schedule schedule = Schedule::kOneCycle;
  bool augment = false;
  double val_split = 0;  // fraction of the training set held out for validation
  std::string device = "auto";
  int threads = 1;  // CPU threads of every pool (set_cpu_threads); 0: one per core
  uint64_t seed = 1;
  std::string out_dir;  // empty: a new folder under runs/
  bool resume = false;
  int64_t log_every = 50;  // steps between progress updates (and host syncs)
  int64_t eval_batch_size = 1000;
  int64_t train_limit = 0;        // use only the first N training images (0: all); for quick runs
  int64_t test_limit = 0;         // use only the first N test images (0: all)
  int64_t stop_after_epochs = 0;  // stop (as if interrupted) once this many epochs are done; 0: never
  double target_accuracy = 0;     // in (0,1]: stop after the first epoch whose test accuracy reaches it; 0: off
  // Checked between steps: once it reads true, training stops before the next step and throws TrainingStopped.
  // In data-parallel training the ranks agree on it every log_every steps, and stop together.
  const std::atomic<bool>* stop = nullptr;
  // Data-parallel training: this process's place in the group that trains the model (nullptr: alone). Then
  // batch_size is per rank (the global batch is world_size x batch_size), each rank takes its shard of every
  // epoch's permutation (as DistributedSampler does), gradients are averaged over the global batch by
  // all-reduces in buckets of at least all_reduce_bucket_bytes (GradientBuckets; LeNet-5 fits one by default),
  // and the learning rate follows the global batch (learning_rate_scale). Rank 0 alone writes the run folder;
  // every rank resumes from it.
  Collective* collective = nullptr;
  int64_t all_reduce_bucket_bytes = int64_t{1} << 20;
};

// The factor the learning rate is multiplied by for `world_size` ranks: the linear rule (x world_size) for sgd,
// the square-root rule (x sqrt(world_size)) for adam and adamw; 1 for one rank.
double learning_rate_scale(OptimizerKind optimizer, int world_size);

// Throws std::invalid_argument naming the flag when a value is out of range.
void validate(const TrainOptions& options);
// The learning rate used when options.lr is 0.
double recommended_learning_rate(OptimizerKind optimizer, model::Variant variant);

// The options that continue the run in requested.out_dir: its settings from its config.json, with the values of
// `given` (the flags named on the command line, e.g. "--epochs") taken from `requested`. A resume keeps the
// run's recipe: a given flag that changes it throws std::invalid_argument naming the flag. Only --epochs may be
// raised; --device, --threads and --data are the machine's, not the recipe's (config.json records each resume).
TrainOptions resume_options(const TrainOptions& requested, const std::set<std::string>& given);

// What one epoch measured: the record metrics.jsonl holds (lenet5_run_files).
using EpochMetrics = run_files::EpochRecord;

struct BatchProgress {
  int64_t epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  double loss = 0, accuracy = 0;  // running means over the epoch so far
  double images_per_second = 0;
  double eta_seconds = 0;  // for the rest of this epoch
};

struct TrainResult {
  std::string run_dir;
  std::vector<EpochMetrics> history;  // every epoch of the run, resumed ones included
  double best_test_accuracy = 0;
  double seconds = 0;  // this process's training time
  double images_per_second = 0;
  std::optional<int64_t>
      target_reached_epoch;       // the epoch that reached options.target_accuracy, if it was set and reached
  bool already_complete = false;  // a resumed run that had nothing left to do
};

class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) {}
  virtual void on_progress(const BatchProgress& progress) {}
  // During the test-set evaluation after each epoch: `done` of `total` images scored after `seconds`.
  virtual void on_evaluation_progress(int64_t done, int64_t total, double seconds) {}
  virtual void on_epoch_end(const EpochMetrics& metrics) {}
  // After each epoch's last step, on every rank: the weights and optimiser state as they are (tests compare ranks).
  virtual void on_epoch_trained(int64_t epoch, const model::LeNet5& net, const torch::optim::Optimizer& optimizer) {}
  virtual void on_finish(const TrainResult& result) {}
};

// Training diverged (NaN or infinite loss); the last good checkpoint is left in place.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// options.stop was raised; the run folder holds the last complete epoch and the run resumes from it.
class TrainingStopped : public std::runtime_error {
 public:
  TrainingStopped(const std::string& message, std::string run_dir)
      : std::runtime_error(message), run_dir_(std::move(run_dir)) {}
  const std::string& run_dir() const { return run_dir_; }

 private:
  std::string run_dir_;
};

// With options.resume, the options must agree with the run's config.json (see resume_options).
TrainResult train(const TrainOptions& options, TrainObserver* observer = nullptr);

}  // namespace lenet5::engine
