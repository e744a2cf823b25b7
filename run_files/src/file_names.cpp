#include "lenet5/run_files/file_names.h"

namespace lenet5::run_files {

const std::vector<std::string>& run_file_names() {
  static const std::vector<std::string> names = {run_files::kCheckpoint, run_files::kBest,       run_files::kMetrics,
                                                 run_files::kConfig,     run_files::kEvaluation, run_files::kReport};
  return names;
}

}  // namespace lenet5::run_files
