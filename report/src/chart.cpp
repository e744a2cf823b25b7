#include "lenet5/report/chart.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "text.h"

namespace lenet5::report {
namespace {

using text::escape;
using text::number;

// 1, 2 or 5 times a power of ten, near range / target.
double nice_step(double range, int target) {
  const double raw = range / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * magnitude;
}

int decimals_for(double step) { return std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9))); }

// m * 10^exponent as "5e-4", or plainly for 0.01 ... 5000.
std::string log_label(int mantissa, int exponent) {
  if (exponent >= -2 && exponent <= 3) return number(mantissa * std::pow(10.0, exponent), std::max(0, -exponent));
  return std::to_string(mantissa) + "e" + std::to_string(exponent);
}

struct Axis {
  double lo = 0, hi = 1;
  std::vector<std::pair<double, std::string>> ticks;
};

// The bounds of the points a chart can draw (finite, and positive on a log scale); x_min is infinite when none.
struct DataRange {
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_min = x_min, y_max = -x_min;
};

bool usable(double x, double y, const ChartOptions& o) {
  return std::isfinite(x) && std::isfinite(y) && (!o.log_y || y > 0);
}

DataRange data_range(const std::vector<ChartSeries>& series, const ChartOptions& o) {
  DataRange r;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.x[i], s.y[i], o)) continue;
      r.x_min = std::min(r.x_min, s.x[i]);
      r.x_max = std::max(r.x_max, s.x[i]);
      r.y_min = std::min(r.y_min, s.y[i]);
      r.y_max = std::max(r.y_max, s.y[i]);
    }
  }
  return r;
}

Axis x_axis(const DataRange& r, const ChartOptions& o) {
  Axis xa;
  if (r.x_max - r.x_min < 1e-12) {
    xa.lo = r.x_min - (o.integer_x ? 0.5 : 1);
    xa.hi = r.x_max + (o.integer_x ? 0.5 : 1);
  } else {
    xa.lo = r.x_min;
    xa.hi = r.x_max;
  }
  double x_step = nice_step(xa.hi - xa.lo, 8);
  if (o.integer_x) x_step = std::max(1.0, std::round(x_step));
  for (double t = std::ceil(xa.lo / x_step - 1e-9) * x_step; t <= xa.hi + 1e-9; t += x_step) {
    xa.ticks.emplace_back(t, number(t, decimals_for(x_step)));
  }
  return xa;
}

// Decades of the data, ticks at each power of ten (and at 2x and 5x when there are few).
Axis log_y_axis(const DataRange& r, const ChartOptions& o) {
  Axis ya;
  int e_lo = static_cast<int>(std::floor(std::log10(r.y_min) + 1e-9));
  int e_hi = static_cast<int>(std::ceil(std::log10(r.y_max) - 1e-9));
  if (e_hi <= e_lo) e_hi = e_lo + 1;
  ya.lo = e_lo;
  ya.hi = e_hi;
  for (int e = e_lo; e <= e_hi; ++e) {
    ya.ticks.emplace_back(e, log_label(1, e) + o.y_suffix);
    if (e_hi - e_lo <= 2 && e < e_hi) {
      for (int m : {2, 5}) ya.ticks.emplace_back(e + std::log10(m), log_label(m, e) + o.y_suffix);
    }
  }
  return ya;
}

Axis linear_y_axis(const DataRange& r, const ChartOptions& o) {
  double lo = o.y_from_zero ? std::min(0.0, r.y_min) : r.y_min, hi = r.y_max;
  if (hi - lo < 1e-12) {
    const double pad = std::max(std::abs(hi) * 0.05, 1e-3);
    lo -= o.y_from_zero && lo == 0 ? 0 : pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, 5);
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  if (o.y_max_cap > 0 && hi > o.y_max_cap && o.y_max_cap > lo) hi = o.y_max_cap;
  Axis ya;
  ya.lo = lo;
  ya.hi = hi;
  for (double t = lo; t <= hi + step * 1e-6; t += step)
    ya.ticks.emplace_back(t, number(t, decimals_for(step)) + o.y_suffix);
  return ya;
}

// The plot area inside the margins and the mapping of data to its pixels.
struct Plot {
  static constexpr double left = 64, right = 20, top = 44, bottom = 50;
  double width = 0, height = 0;
  bool log_y = false;
  Axis xa, ya;

  explicit Plot(const ChartOptions& o)
      : width(o.width - left - right), height(o.height - top - bottom), log_y(o.log_y) {}
  double px(double x) const { return left + (x - xa.lo) / (xa.hi - xa.lo) * width; }
  double py(double y) const { return tick_y(log_y ? std::log10(y) : y); }
  double tick_y(double tick) const { return top + height - (tick - ya.lo) / (ya.hi - ya.lo) * height; }
};

// The title, the legend (right-aligned on the title line so it never covers the data), the plot's frame and the
// axis labels.
void frame(std::ostringstream& svg, const std::vector<ChartSeries>& series, const ChartOptions& o, const Plot& plot) {
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << o.width << "\" height=\"" << o.height
      << "\" viewBox=\"0 0 " << o.width << " " << o.height
      << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" role=\"img\">\n";
  svg << "<title>" << escape(o.title) << "</title>\n";
  svg << "<rect width=\"" << o.width << "\" height=\"" << o.height << "\" fill=\"#ffffff\"/>\n";
  svg << "<text x=\"" << Plot::left << "\" y=\"22\" font-size=\"15\" font-weight=\"bold\" fill=\"#222\">"
      << escape(o.title) << "</text>\n";
  double legend_x = o.width - Plot::right;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    legend_x -= 34 + 7.0 * static_cast<double>(it->name.size());
    svg << "<line x1=\"" << legend_x << "\" y1=\"18\" x2=\"" << legend_x + 22 << "\" y2=\"18\" stroke=\"" << it->colour
        << "\" stroke-width=\"2.5\"" << (it->dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>\n";
    svg << "<circle cx=\"" << legend_x + 11 << "\" cy=\"18\" r=\"3\" fill=\"" << it->colour << "\"/>\n";
    svg << "<text x=\"" << legend_x + 27 << "\" y=\"22\" fill=\"#333\">" << escape(it->name) << "</text>\n";
  }
  svg << "<rect x=\"" << Plot::left << "\" y=\"" << Plot::top << "\" width=\"" << plot.width << "\" height=\""
      << plot.height << "\" fill=\"#fbfbfd\" stroke=\"#d0d0d8\"/>\n";
  if (!o.x_label.empty()) {
    svg << "<text x=\"" << Plot::left + plot.width / 2 << "\" y=\"" << o.height - 10
        << "\" text-anchor=\"middle\" fill=\"#444\">" << escape(o.x_label) << "</text>\n";
  }
  if (!o.y_label.empty()) {
    const double cy = Plot::top + plot.height / 2;
    svg << "<text x=\"16\" y=\"" << cy << "\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 16 " << cy
        << ")\">" << escape(o.y_label) << "</text>\n";
  }
}

// Grid lines, tick labels and the two axis lines.
void axes(std::ostringstream& svg, const Plot& plot) {
  const double left = Plot::left, top = Plot::top, bottom_y = Plot::top + plot.height;
  svg << "<g stroke=\"#e3e3ea\" stroke-width=\"1\">\n";
  for (const auto& [t, label] : plot.ya.ticks) {
    svg << "<line x1=\"" << left << "\" y1=\"" << number(plot.tick_y(t)) << "\" x2=\"" << left + plot.width
        << "\" y2=\"" << number(plot.tick_y(t)) << "\"/>\n";
  }
  for (const auto& [t, label] : plot.xa.ticks) {
    svg << "<line x1=\"" << number(plot.px(t)) << "\" y1=\"" << top << "\" x2=\"" << number(plot.px(t)) << "\" y2=\""
        << bottom_y << "\"/>\n";
  }
  svg << "</g>\n<g fill=\"#555\" font-size=\"11\">\n";
  for (const auto& [t, label] : plot.ya.ticks) {
    svg << "<text x=\"" << left - 6 << "\" y=\"" << number(plot.tick_y(t) + 4) << "\" text-anchor=\"end\">"
        << escape(label) << "</text>\n";
  }
  for (const auto& [t, label] : plot.xa.ticks) {
    svg << "<text x=\"" << number(plot.px(t)) << "\" y=\"" << bottom_y + 16 << "\" text-anchor=\"middle\">"
        << escape(label) << "</text>\n";
  }
  svg << "</g>\n";
  svg << "<line x1=\"" << left << "\" y1=\"" << bottom_y << "\" x2=\"" << left + plot.width << "\" y2=\"" << bottom_y
      << "\" stroke=\"#777\"/>\n";
  svg << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << bottom_y
      << "\" stroke=\"#777\"/>\n";
}

// One series: a line through its usable points (when there are two or more) and a marker with a tooltip on each.
void draw_series(std::ostringstream& svg, const ChartSeries& s, const ChartOptions& o, const Plot& plot) {
  std::ostringstream points, markers;
  size_t count = 0;
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!usable(s.x[i], s.y[i], o)) continue;
    ++count;
    points << number(plot.px(s.x[i])) << "," << number(plot.py(s.y[i])) << " ";
    markers << "<circle cx=\"" << number(plot.px(s.x[i])) << "\" cy=\"" << number(plot.py(s.y[i]))
            << "\" r=\"3.2\" fill=\"" << s.colour << "\" stroke=\"#fff\" stroke-width=\"1\"><title>" << escape(s.name)
            << ", " << escape(o.x_label.empty() ? "x" : o.x_label) << " " << number(s.x[i], 3) << ": "
            << number(s.y[i], o.log_y ? 8 : 4) << escape(o.y_suffix) << "</title></circle>\n";
  }
  if (count > 1) {
    svg << "<polyline fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\"2\" stroke-linejoin=\"round\""
        << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"" << points.str() << "\"/>\n";
  }
  svg << markers.str();
}

}  // namespace

std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& o) {
  const DataRange range = data_range(series, o);
  Plot plot(o);
  std::ostringstream svg;
  frame(svg, series, o, plot);
  if (!std::isfinite(range.x_min)) {
    svg << "<text x=\"" << Plot::left + plot.width / 2 << "\" y=\"" << Plot::top + plot.height / 2
        << "\" text-anchor=\"middle\" fill=\"#888\" font-size=\"14\">" << escape(o.empty_message)
        << "</text>\n</svg>\n";
    return svg.str();
  }
  plot.xa = x_axis(range, o);
  plot.ya = o.log_y ? log_y_axis(range, o) : linear_y_axis(range, o);
  axes(svg, plot);
  for (const auto& s : series) draw_series(svg, s, o, plot);
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace lenet5::report
