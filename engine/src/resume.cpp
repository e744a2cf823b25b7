#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "lenet5/files/read.h"
#include "lenet5/run_files/file_names.h"
#include "run_config.h"
#include "training.h"

namespace lenet5::engine {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using run_files::kCheckpoint;
using run_files::kMetrics;

// Epochs 1..completed from metrics.jsonl; anything later (written after the last checkpoint), incomplete or
// unreadable (a line cut by a crash) is dropped.
std::vector<EpochMetrics> read_history(const std::string& path, int64_t completed) {
  std::vector<EpochMetrics> history;
  std::istringstream in(files::read_input(path, files::InputKind::kRunFile));
  std::string line;
  while (std::getline(in, line)) {
    const auto next = static_cast<int64_t>(history.size()) + 1;
    try {
      auto m = run_files::parse_epoch_line(line, path, next);
      if (m.complete() && m.epoch == next && m.epoch <= completed) history.push_back(m);
    } catch (const std::runtime_error&) {
    }
  }
  return history;
}

void check_checkpoint_matches_config(const TrainOptions& options, const CheckpointInfo& info,
                                     const std::string& checkpoint_path) {
  if (info.variant != options.variant) {
    throw CheckpointError(checkpoint_path + ": holds a " + model::variant_name(info.variant) +
                          " model, but the run's config.json says " + model::variant_name(options.variant));
  }
  const std::string optimizer = optimizer_name(options.optimizer);
  const auto saved_config = json::parse(info.config_json, nullptr, /*allow_exceptions=*/false);
  if (saved_config.is_object() && saved_config.value("optimizer", optimizer) != optimizer) {
    throw CheckpointError(checkpoint_path + ": holds the state of a " + saved_config.value("optimizer", "") +
                          " optimiser, but the run's config.json says " + optimizer);
  }
}

}  // namespace

bool is_complete(const TrainOptions& options, const std::vector<EpochMetrics>& history) {
  if (static_cast<int64_t>(history.size()) >= options.epochs) return true;
  return options.target_accuracy > 0 && !history.empty() && history.back().test_accuracy >= options.target_accuracy;
}

RunStart resume_run(const TrainOptions& options, const std::string& run_dir) {
  RunStart start;
  start.config = read_run_config(run_dir);
  check_resume_keeps_recipe(options, start.config, run_dir);
  const std::string checkpoint_path = (fs::path(run_dir) / kCheckpoint).string();
  start.resumed = load_checkpoint(checkpoint_path);
  const auto& info = start.resumed->info;
  check_checkpoint_matches_config(options, info, checkpoint_path);
  const std::string metrics_path = (fs::path(run_dir) / kMetrics).string();
  start.history = read_history(metrics_path, info.epoch);
  if (static_cast<int64_t>(start.history.size()) != info.epoch) {
    throw std::runtime_error(metrics_path + ": holds " + std::to_string(start.history.size()) + " complete epochs, " +
                             checkpoint_path + " is at epoch " + std::to_string(info.epoch));
  }
  start.first_epoch = info.epoch + 1;
  return start;
}

}  // namespace lenet5::engine
