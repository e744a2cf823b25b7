// The steps of train(), one file each: resuming (resume.cpp), preparing the run (trainer.cpp), one epoch and
// the end of an epoch (train_epoch.cpp). Internal to the engine.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/engine/gradient_buckets.h"
#include "lenet5/engine/schedule.h"
#include "lenet5/engine/trainer.h"

namespace lenet5::engine {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Where a run starts: epoch 1 of a new run, or the epoch after a resumed run's checkpoint.
struct RunStart {
  int64_t first_epoch = 1;
  std::vector<EpochMetrics> history;
  nlohmann::json config;                    // the run's config.json as it was (resumed runs only)
  std::optional<LoadedCheckpoint> resumed;  // the checkpoint it continues from
};

// The resumed run's settings, checkpoint and history, checked against each other before any data is read.
RunStart resume_run(const TrainOptions& options, const std::string& run_dir);
// Whether the epochs of `history` already finish the run (all planned, or the target accuracy reached).
bool is_complete(const TrainOptions& options, const std::vector<EpochMetrics>& history);

// The training, validation and test sets, resident on the training device.
struct Datasets {
  data::MnistDataset train, test;
  std::optional<data::MnistDataset> val;
};

// Everything one train() call works on; the model is built by prepare_model before the first epoch.
struct Training {
  Training(const TrainOptions& options, TrainObserver& observer, const torch::Device& device, std::string run_dir,
           Datasets data);

  const TrainOptions& options;
  TrainObserver& observer;
  Collective* group;  // options.collective: nullptr when training alone
  int rank, world_size;
  torch::Device device;
  model::Variant variant;
  Schedule schedule;
  double base_lr;
  std::string run_dir, checkpoint_path;
  std::string config_json;  // the run's config.json, saved in every checkpoint (set by prepare_model)
  Datasets data;
  model::LeNet5 net{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::unique_ptr<GradientBuckets> buckets;  // in a group with a flat optimiser: the overlapped all-reduces
  std::vector<EpochMetrics> history;
  double best = -1;          // the best selection accuracy of `history`
  int64_t global_batch = 0;  // images per step over all ranks
  int64_t steps_per_epoch = 0, total_steps = 0;
};

// The means of one epoch's training steps.
struct EpochTraining {
  double loss = 0, accuracy = 0;
  double lr = 0;       // the last step's
  double seconds = 0;  // training only
};

// One pass over the training set. Throws TrainingStopped when options.stop is raised before a step,
// TrainingDiverged when the loss stops being finite.
EpochTraining train_epoch(Training& t, int64_t epoch, Clock::time_point epoch_start);
// Scores the epoch on the test (and validation) set, then writes evaluation.json, metrics.jsonl, best.pt when
// it is the best so far and the checkpoint, in that order; returns the epoch's record (already in t.history).
EpochMetrics end_epoch(Training& t, int64_t epoch, const EpochTraining& training, Clock::time_point epoch_start);

// Whether this process writes the run folder: rank 0, or a process training alone.
inline bool writes_run_folder(const Training& t) { return t.rank == 0; }

// The score the best checkpoint is chosen by: validation accuracy when held out, else test accuracy.
double selection_accuracy(const EpochMetrics& m);

bool stop_requested(const TrainOptions& options);
// The exception that stops a run after `saved_epoch`, naming the command that resumes it.
TrainingStopped stopped(const std::string& run_dir, int64_t saved_epoch, int64_t epochs);

}  // namespace lenet5::engine
