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

}  // namespace

std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& o) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x_min = kInf, x_max = -kInf, y_min = kInf, y_max = -kInf;
  auto usable = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!o.log_y || y > 0); };
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, s.y[i]);
      y_max = std::max(y_max, s.y[i]);
    }
  }
  const bool empty = !std::isfinite(x_min);

  const double left = 64, right = 20, top = 44, bottom = 50;
  const double plot_w = o.width - left - right, plot_h = o.height - top - bottom;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << o.width << "\" height=\"" << o.height
      << "\" viewBox=\"0 0 " << o.width << " " << o.height
      << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" role=\"img\">\n";
  svg << "<title>" << escape(o.title) << "</title>\n";
  svg << "<rect width=\"" << o.width << "\" height=\"" << o.height << "\" fill=\"#ffffff\"/>\n";
  svg << "<text x=\"" << left << "\" y=\"22\" font-size=\"15\" font-weight=\"bold\" fill=\"#222\">" << escape(o.title)
      << "</text>\n";

  // Legend, right-aligned on the title line so it never covers the data.
  double legend_x = o.width - right;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    const double w = 34 + 7.0 * static_cast<double>(it->name.size());
    legend_x -= w;
    svg << "<line x1=\"" << legend_x << "\" y1=\"18\" x2=\"" << legend_x + 22 << "\" y2=\"18\" stroke=\"" << it->colour
        << "\" stroke-width=\"2.5\"" << (it->dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>\n";
    svg << "<circle cx=\"" << legend_x + 11 << "\" cy=\"18\" r=\"3\" fill=\"" << it->colour << "\"/>\n";
    svg << "<text x=\"" << legend_x + 27 << "\" y=\"22\" fill=\"#333\">" << escape(it->name) << "</text>\n";
  }

  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\"" << plot_h
      << "\" fill=\"#fbfbfd\" stroke=\"#d0d0d8\"/>\n";
  if (!o.x_label.empty()) {
    svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << o.height - 10 << "\" text-anchor=\"middle\" fill=\"#444\">"
        << escape(o.x_label) << "</text>\n";
  }
  if (!o.y_label.empty()) {
    const double cy = top + plot_h / 2;
    svg << "<text x=\"16\" y=\"" << cy << "\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 16 " << cy
        << ")\">" << escape(o.y_label) << "</text>\n";
  }
  if (empty) {
    svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << top + plot_h / 2
        << "\" text-anchor=\"middle\" fill=\"#888\" font-size=\"14\">" << escape(o.empty_message) << "</text>\n</svg>\n";
    return svg.str();
  }

  // X axis.
  Axis xa;
  if (x_max - x_min < 1e-12) {
    xa.lo = x_min - (o.integer_x ? 0.5 : 1);
    xa.hi = x_max + (o.integer_x ? 0.5 : 1);
  } else {
    xa.lo = x_min;
    xa.hi = x_max;
  }
  double x_step = nice_step(xa.hi - xa.lo, 8);
  if (o.integer_x) x_step = std::max(1.0, std::round(x_step));
  for (double t = std::ceil(xa.lo / x_step - 1e-9) * x_step; t <= xa.hi + 1e-9; t += x_step) {
    xa.ticks.emplace_back(t, number(t, decimals_for(x_step)));
  }

  // Y axis.
  Axis ya;
  if (o.log_y) {
    int e_lo = static_cast<int>(std::floor(std::log10(y_min) + 1e-9));
    int e_hi = static_cast<int>(std::ceil(std::log10(y_max) - 1e-9));
    if (e_hi <= e_lo) e_hi = e_lo + 1;
    ya.lo = e_lo;
    ya.hi = e_hi;
    for (int e = e_lo; e <= e_hi; ++e) {
      ya.ticks.emplace_back(e, log_label(1, e) + o.y_suffix);
      if (e_hi - e_lo <= 2 && e < e_hi) {  // few decades: label 2x and 5x too
        for (int m : {2, 5}) ya.ticks.emplace_back(e + std::log10(m), log_label(m, e) + o.y_suffix);
      }
    }
  } else {
    double lo = o.y_from_zero ? std::min(0.0, y_min) : y_min, hi = y_max;
    if (hi - lo < 1e-12) {
      const double pad = std::max(std::abs(hi) * 0.05, 1e-3);
      lo -= o.y_from_zero && lo == 0 ? 0 : pad;
      hi += pad;
    }
    const double step = nice_step(hi - lo, 5);
    lo = std::floor(lo / step + 1e-9) * step;
    hi = std::ceil(hi / step - 1e-9) * step;
    if (o.y_max_cap > 0 && hi > o.y_max_cap && o.y_max_cap > lo) hi = o.y_max_cap;
    ya.lo = lo;
    ya.hi = hi;
    for (double t = lo; t <= hi + step * 1e-6; t += step) ya.ticks.emplace_back(t, number(t, decimals_for(step)) + o.y_suffix);
  }

  auto px = [&](double x) { return left + (x - xa.lo) / (xa.hi - xa.lo) * plot_w; };
  auto py = [&](double y) {
    const double v = o.log_y ? std::log10(y) : y;
    return top + plot_h - (v - ya.lo) / (ya.hi - ya.lo) * plot_h;
  };
  auto pyt = [&](double tick) { return top + plot_h - (tick - ya.lo) / (ya.hi - ya.lo) * plot_h; };

  svg << "<g stroke=\"#e3e3ea\" stroke-width=\"1\">\n";
  for (const auto& [t, label] : ya.ticks) {
    svg << "<line x1=\"" << left << "\" y1=\"" << number(pyt(t)) << "\" x2=\"" << left + plot_w << "\" y2=\""
        << number(pyt(t)) << "\"/>\n";
  }
  for (const auto& [t, label] : xa.ticks) {
    svg << "<line x1=\"" << number(px(t)) << "\" y1=\"" << top << "\" x2=\"" << number(px(t)) << "\" y2=\""
        << top + plot_h << "\"/>\n";
  }
  svg << "</g>\n<g fill=\"#555\" font-size=\"11\">\n";
  for (const auto& [t, label] : ya.ticks) {
    svg << "<text x=\"" << left - 6 << "\" y=\"" << number(pyt(t) + 4) << "\" text-anchor=\"end\">" << escape(label)
        << "</text>\n";
  }
  for (const auto& [t, label] : xa.ticks) {
    svg << "<text x=\"" << number(px(t)) << "\" y=\"" << top + plot_h + 16 << "\" text-anchor=\"middle\">"
        << escape(label) << "</text>\n";
  }
  svg << "</g>\n";
  svg << "<line x1=\"" << left << "\" y1=\"" << top + plot_h << "\" x2=\"" << left + plot_w << "\" y2=\"" << top + plot_h
      << "\" stroke=\"#777\"/>\n";
  svg << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << top + plot_h
      << "\" stroke=\"#777\"/>\n";

  for (const auto& s : series) {
    std::ostringstream points, markers;
    size_t count = 0;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      ++count;
      points << number(px(s.x[i])) << "," << number(py(s.y[i])) << " ";
      markers << "<circle cx=\"" << number(px(s.x[i])) << "\" cy=\"" << number(py(s.y[i])) << "\" r=\"3.2\" fill=\""
              << s.colour << "\" stroke=\"#fff\" stroke-width=\"1\"><title>" << escape(s.name) << ", "
              << escape(o.x_label.empty() ? "x" : o.x_label) << " " << number(s.x[i], 3) << ": "
              << number(s.y[i], o.log_y ? 8 : 4) << escape(o.y_suffix) << "</title></circle>\n";
    }
    if (count > 1) {
      svg << "<polyline fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\"2\" stroke-linejoin=\"round\""
          << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"" << points.str() << "\"/>\n";
    }
    svg << markers.str();
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace lenet5::report
