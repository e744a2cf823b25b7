// Line charts as self-contained SVG: axes with ticks, grid lines, a legend and a <title> tooltip per point.
#pragma once

#include <string>
#include <vector>

namespace lenet5::report {

struct ChartSeries {
  std::string name;
  std::string colour;  // any SVG colour, e.g. "#4e79a7"
  bool dashed = false;
  std::vector<double> x;  // same length as y; points with a non-finite y are skipped
  std::vector<double> y;
};

struct ChartOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 560;
  int height = 320;
  bool y_from_zero = false;  // start the y axis at 0 (losses)
  double y_max_cap = 0;      // when > 0, the y axis never goes above it (accuracy in %)
  bool integer_x = true;     // x ticks on whole numbers (epochs)
  bool log_y = false;        // logarithmic y axis (learning rates); non-positive values are skipped
  std::string y_suffix;      // appended to y tick labels and tooltips, e.g. "%"
  std::string empty_message = "No data yet";
};

std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& options);

}  // namespace lenet5::report
