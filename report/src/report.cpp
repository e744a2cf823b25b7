#include "lenet5/report/report.h"

#include <filesystem>

#include "lenet5/files/write.h"
#include "lenet5/run_files/file_names.h"
#include "lenet5/run_files/json_file.h"
#include "page.h"
#include "run_reader.h"

namespace lenet5::report {
namespace fs = std::filesystem;

std::string render_report_html(const ReportInputs& inputs) { return render_page(inputs, read_run(inputs.run_dir)); }

std::string write_report(const ReportInputs& inputs) {
  const fs::path run(inputs.run_dir);
  const std::string path = (run / run_files::kReport).string();
  files::check_output_path(path, {(run / run_files::kConfig).string(), (run / run_files::kMetrics).string(),
                                  (run / run_files::kEvaluation).string(), inputs.test_images});
  files::write_file_atomically(path, render_report_html(inputs));
  return path;
}

std::string run_variant(const std::string& run_dir) {
  const auto config = run_files::read_json_object((fs::path(run_dir) / run_files::kConfig).string());
  if (!config) return "";
  const auto it = config->find("variant");
  return it != config->end() && it->is_string() ? it->get<std::string>() : "";
}

bool looks_like_run(const std::string& run_dir) {
  for (const char* name : {run_files::kConfig, run_files::kMetrics, run_files::kEvaluation}) {
    if (fs::exists(fs::path(run_dir) / name)) return true;
  }
  return false;
}

}  // namespace lenet5::report
