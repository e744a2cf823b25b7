// The HTML page of a run: its sections in order, the style sheet (report.css, embedded at build time) and the
// SVG figures inline, so the one file reads offline.
#pragma once

#include <string>

#include "lenet5/report/report.h"
#include "run_reader.h"

namespace lenet5::report {

std::string render_page(const ReportInputs& inputs, const Run& run);

}  // namespace lenet5::report
