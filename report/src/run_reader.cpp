#include "run_reader.h"

#include <filesystem>
#include <stdexcept>

#include "lenet5/data/dataset_files.h"
#include "lenet5/files/read.h"
#include "lenet5/run_files/file_names.h"
#include "lenet5/run_files/json_file.h"

namespace lenet5::report {
namespace fs = std::filesystem;

std::string Run::setting(const char* key) const { return run_files::string_field(config, key); }

const std::vector<std::string>& Run::class_names() const {
  try {
    return data::class_names(data::parse_dataset_kind(setting("dataset")));
  } catch (const std::invalid_argument&) {
    return data::class_names(data::DatasetKind::kMnist);
  }
}

Run read_run(const std::string& dir) {
  Run run;
  run.dir = dir;
  const fs::path root(dir);
  if (auto config = run_files::read_json_object((root / run_files::kConfig).string())) {
    run.config = *config;
    run.has_config = true;
  }
  const std::string metrics = (root / run_files::kMetrics).string();
  if (files::exists(metrics)) {
    run.has_metrics = true;
    run.epochs = run_files::read_metrics(metrics);
  }
  run.evaluation = run_files::read_evaluation((root / run_files::kEvaluation).string(), run.class_names().size());
  return run;
}

}  // namespace lenet5::report
