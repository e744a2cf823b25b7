// A run folder as the report reads it: config.json, metrics.jsonl and evaluation.json through lenet5_run_files.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "lenet5/run_files/epoch_record.h"
#include "lenet5/run_files/evaluation_record.h"

namespace lenet5::report {

struct Run {
  std::string dir;
  nlohmann::json config = nlohmann::json::object();
  bool has_config = false;
  bool has_metrics = false;
  std::vector<run_files::EpochRecord> epochs;
  std::optional<run_files::EvaluationRecord> evaluation;

  // config.json's value at `key` as text; "" when absent.
  std::string setting(const char* key) const;
  // The class names of config.json's dataset (digits when it names none the data library knows).
  const std::vector<std::string>& class_names() const;
};

// Missing files leave their parts empty; a malformed file throws std::runtime_error naming it.
Run read_run(const std::string& dir);

}  // namespace lenet5::report
