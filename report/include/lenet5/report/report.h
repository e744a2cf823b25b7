// The self-contained HTML report of a training run folder (config.json, metrics.jsonl, evaluation.json and
// the test images named by config.json's data_dir): one file with inline CSS and SVG, readable offline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lenet5/report/diagram.h"

namespace lenet5::report {

struct ReportInputs {
  std::string run_dir;
  std::vector<DiagramLayer> layers;            // the run's network, for the architecture section; may be empty
  std::vector<std::vector<int64_t>> c3_table;  // classic only: drawn next to the diagram when not empty
  std::string test_images;                     // the test images file; empty: looked up from config.json's data_dir
};

// Missing files (a run that has not finished an epoch yet) leave their sections with a note; a malformed
// file throws std::runtime_error naming it.
std::string render_report_html(const ReportInputs& inputs);
// Renders and writes <run_dir>/report.html atomically (temporary file and rename); returns its path.
std::string write_report(const ReportInputs& inputs);

// config.json's "variant" in `run_dir`, or "" when the file or the key is missing. Throws like the above.
std::string run_variant(const std::string& run_dir);
// Whether `run_dir` holds any of a run's files (config.json, metrics.jsonl, evaluation.json).
bool looks_like_run(const std::string& run_dir);

}  // namespace lenet5::report
