// config.json of a run folder: the settings that define a run (its recipe), and what a resume may change.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <string>

#include "lenet5/engine/trainer.h"

namespace lenet5::engine {

// The learning rate the run uses: options.lr, or the recommended one when it is 0.
double resolved_learning_rate(const TrainOptions& options);

// The ranks training together: options.collective's group, or 1 (config.json records it; a resume may change it).
int world_size_of(const TrainOptions& options);

// Every setting, the versions, the device and thread count, as config.json holds them at the start of a run.
nlohmann::json run_config_json(const TrainOptions& options, const std::string& run_dir, const torch::Device& device);

// <run_dir>/config.json; throws std::invalid_argument naming --resume and the file when it is missing or unreadable.
nlohmann::json read_run_config(const std::string& run_dir);

// Throws std::invalid_argument naming the first flag whose value differs from the run's recipe, or --epochs when
// it is lower than the run's.
void check_resume_keeps_recipe(const TrainOptions& options, const nlohmann::json& config, const std::string& run_dir);

// `config` with its planned epochs set to options.epochs and this resume appended to its "resumes" list
// (the epoch it starts at, the epochs planned, the device, threads and data folder); earlier settings stay.
nlohmann::json record_resume(nlohmann::json config, const TrainOptions& options, int64_t first_epoch,
                             const torch::Device& device);

}  // namespace lenet5::engine
