// The files a training run writes into its folder: the one list of their names, for the trainer, the report and
// the CLI.
#pragma once

#include <string>
#include <vector>

namespace lenet5::run_files {

inline constexpr const char* kCheckpoint = "checkpoint.pt";
inline constexpr const char* kBest = "best.pt";
inline constexpr const char* kMetrics = "metrics.jsonl";
inline constexpr const char* kConfig = "config.json";
inline constexpr const char* kEvaluation = "evaluation.json";
inline constexpr const char* kReport = "report.html";

// Every name above: a folder holding any of them holds a run.
const std::vector<std::string>& run_file_names();

}  // namespace lenet5::run_files
