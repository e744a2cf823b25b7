#include "lenet5/report/diagram.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "text.h"

namespace lenet5::report {
namespace {

using text::escape;
using text::number;

constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

struct Palette {
  const char* fill;
  const char* light;
  const char* dark;
  const char* legend;
};

Palette palette_for(const std::string& kind) {
  if (kind == "Input") return {"#c9c3bf", "#e4e0de", "#7f7672", "Input image"};
  if (kind == "Convolution") return {"#4e79a7", "#8fb0d3", "#2c4a6b", "Convolution"};
  if (kind == "Subsampling") return {"#f28e2b", "#f8bf85", "#a65b12", "Subsampling (trainable)"};
  if (kind == "MaxPool") return {"#f28e2b", "#f8bf85", "#a65b12", "Max pooling"};
  if (kind == "FullyConnected") return {"#59a14f", "#9acb92", "#37672f", "Fully connected"};
  if (kind == "EuclideanRBF") return {"#b07aa1", "#d6b3cd", "#72476a", "Euclidean RBF output"};
  return {"#9d9d9d", "#cfcfcf", "#5a5a5a", "Other"};
}

bool is_feature_maps(const std::vector<int64_t>& shape) { return shape.size() == 3 && (shape[1] > 1 || shape[2] > 1); }

int64_t units(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return shape.empty() ? 0 : n;
}

double text_width(const std::string& s, double per_char) {
  double n = 0;
  for (unsigned char c : s) n += (c & 0xC0) == 0x80 ? 0 : 1;  // count UTF-8 code points
  return n * per_char;
}

// One layer's drawing, in coordinates where the front face is centred on y = 0.
struct Shape {
  bool maps = false;
  int64_t count = 1;  // maps drawn
  double face_w = 0, face_h = 0;
  double step = 0;  // offset between stacked maps (or the depth of a bar)
  double width() const { return face_w + step * (maps ? static_cast<double>(count - 1) : 1.0); }
  double top() const { return -face_h / 2 - step * (maps ? static_cast<double>(count - 1) : 1.0); }
  double bottom() const { return face_h / 2; }
};

Shape shape_of(const DiagramLayer& layer) {
  Shape s;
  if (is_feature_maps(layer.shape)) {
    s.maps = true;
    s.count = std::clamp<int64_t>(layer.shape[0], 1, 24);
    s.face_h = 12 * std::sqrt(static_cast<double>(layer.shape[1]));
    s.face_w = 12 * std::sqrt(static_cast<double>(layer.shape[2]));
    s.step = s.count > 1 ? std::min(7.0, 84.0 / static_cast<double>(s.count - 1)) : 0;
  } else {
    s.face_w = 18;
    s.face_h = 8 + 9 * std::sqrt(static_cast<double>(std::max<int64_t>(units(layer.shape), 1)));
    s.step = 10;
  }
  return s;
}

void draw(std::ostringstream& svg, const Shape& s, const Palette& p, double x, double cy) {
  const double y = cy - s.face_h / 2;
  if (s.maps) {
    for (int64_t k = s.count - 1; k >= 0; --k) {  // back maps first, up and to the right
      const double o = s.step * static_cast<double>(k);
      svg << "<rect x=\"" << number(x + o) << "\" y=\"" << number(y - o) << "\" width=\"" << number(s.face_w)
          << "\" height=\"" << number(s.face_h) << "\" fill=\"" << (k == 0 ? p.fill : p.light) << "\" stroke=\""
          << p.dark << "\" stroke-width=\"1\"/>\n";
    }
    return;
  }
  const double d = s.step, w = s.face_w, h = s.face_h;
  svg << "<polygon points=\"" << number(x) << "," << number(y) << " " << number(x + d) << "," << number(y - d) << " "
      << number(x + w + d) << "," << number(y - d) << " " << number(x + w) << "," << number(y) << "\" fill=\""
      << p.light << "\" stroke=\"" << p.dark << "\" stroke-width=\"1\"/>\n";
  svg << "<polygon points=\"" << number(x + w) << "," << number(y) << " " << number(x + w + d) << "," << number(y - d)
      << " " << number(x + w + d) << "," << number(y + h - d) << " " << number(x + w) << "," << number(y + h)
      << "\" fill=\"" << p.dark << "\" stroke=\"" << p.dark << "\" stroke-width=\"1\"/>\n";
  svg << "<rect x=\"" << number(x) << "\" y=\"" << number(y) << "\" width=\"" << number(w) << "\" height=\""
      << number(h) << "\" fill=\"" << p.fill << "\" stroke=\"" << p.dark << "\" stroke-width=\"1\"/>\n";
}

// The opening of a figure: the <svg> element, its title and a white background.
void open_svg(std::ostringstream& svg, double width, double height, const std::string& title) {
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width, 0) << "\" height=\"" << number(height, 0)
      << "\" viewBox=\"0 0 " << number(width, 0) << " " << number(height, 0) << "\" font-family=\"" << kFont
      << "\" font-size=\"12\" role=\"img\">\n";
  svg << "<title>" << escape(title) << "</title>\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
}

constexpr double kMargin = 24, kGap = 34, kLabelGap = 22;

std::string parameters_label(const DiagramLayer& layer) {
  return layer.trainable_parameters > 0 ? text::with_commas(layer.trainable_parameters) + " params" : "";
}

// Where each layer goes: its shape, and a slot (left edge, width) wide enough for its labels.
struct Layout {
  std::vector<Shape> shapes;
  std::vector<double> slot_x, slot_w;
  double right = kMargin, top = 0, bottom = 0;  // right: past the last slot and its gap
  int64_t parameters = 0;

  double shape_left(size_t i) const { return slot_x[i] + (slot_w[i] - shapes[i].width()) / 2; }
};

Layout layout_of(const std::vector<DiagramLayer>& layers) {
  Layout l;
  for (const auto& layer : layers) {
    const Shape& s = l.shapes.emplace_back(shape_of(layer));
    const double w = std::max({s.width(), text_width(layer.name, 9.5), text_width(shape_label(layer), 7.4),
                               text_width(parameters_label(layer), 6.6)});
    l.slot_x.push_back(l.right);
    l.slot_w.push_back(w);
    l.right += w + kGap;
    l.top = std::min(l.top, s.top());
    l.bottom = std::max(l.bottom, s.bottom());
    l.parameters += layer.trainable_parameters;
  }
  return l;
}

// Legend entries in order of first appearance, one per colour label.
std::vector<Palette> legend_of(const std::vector<DiagramLayer>& layers) {
  std::vector<Palette> legend;
  for (const auto& layer : layers) {
    const Palette p = palette_for(layer.kind);
    if (std::none_of(legend.begin(), legend.end(),
                     [&](const Palette& q) { return std::string(q.legend) == p.legend; })) {
      legend.push_back(p);
    }
  }
  return legend;
}

double legend_entry_width(const Palette& p) { return 26 + text_width(p.legend, 7.0) + 18; }

void draw_arrow(std::ostringstream& svg, double from, double to, double cy) {
  if (to - from <= 8) return;
  svg << "<line x1=\"" << number(from) << "\" y1=\"" << number(cy) << "\" x2=\"" << number(to - 6) << "\" y2=\""
      << number(cy) << "\" stroke=\"#9a9a9a\" stroke-width=\"1.5\"/>\n";
  svg << "<polygon points=\"" << number(to) << "," << number(cy) << " " << number(to - 7) << "," << number(cy - 4)
      << " " << number(to - 7) << "," << number(cy + 4) << "\" fill=\"#9a9a9a\"/>\n";
}

// Layer i: its drawing with a tooltip, the arrow to the next layer, and its name, shape and parameters below.
void draw_layer(std::ostringstream& svg, const std::vector<DiagramLayer>& layers, const Layout& l, size_t i, double cy,
                double labels_y) {
  const DiagramLayer& layer = layers[i];
  const double left = l.shape_left(i);
  svg << "<g><title>"
      << escape(layer.name + ": " + layer.kind + ", " + shape_label(layer) + ", " +
                text::with_commas(layer.trainable_parameters) + " trainable parameters")
      << "</title>\n";
  draw(svg, l.shapes[i], palette_for(layer.kind), left, cy);
  svg << "</g>\n";
  if (i + 1 < layers.size()) draw_arrow(svg, left + l.shapes[i].width() + 5, l.shape_left(i + 1) - 5, cy);
  const double mid = l.slot_x[i] + l.slot_w[i] / 2;
  svg << "<text x=\"" << number(mid) << "\" y=\"" << number(labels_y) << "\" text-anchor=\"middle\" font-size=\"15\""
      << " font-weight=\"bold\" fill=\"#222\">" << escape(layer.name) << "</text>\n";
  svg << "<text x=\"" << number(mid) << "\" y=\"" << number(labels_y + 17) << "\" text-anchor=\"middle\" fill=\"#333\">"
      << escape(shape_label(layer)) << "</text>\n";
  if (layer.trainable_parameters > 0) {
    svg << "<text x=\"" << number(mid) << "\" y=\"" << number(labels_y + 32)
        << "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#777\">" << text::with_commas(layer.trainable_parameters)
        << " params</text>\n";
  }
}

void draw_legend(std::ostringstream& svg, const std::vector<Palette>& legend, double legend_y) {
  double lx = kMargin;
  for (const auto& p : legend) {
    svg << "<rect x=\"" << number(lx) << "\" y=\"" << number(legend_y - 11) << "\" width=\"14\" height=\"14\" rx=\"2\""
        << " fill=\"" << p.fill << "\" stroke=\"" << p.dark << "\"/>\n";
    svg << "<text x=\"" << number(lx + 20) << "\" y=\"" << number(legend_y) << "\" fill=\"#333\">" << escape(p.legend)
        << "</text>\n";
    lx += legend_entry_width(p);
  }
}

// The C3 table's grid: column and row numbers, then one cell per (C3 map, S2 map), filled where connected.
struct Grid {
  static constexpr double cell = 24, left = 96, top = 84;
  int64_t rows = 0, columns = 0;
};

void draw_grid_labels(std::ostringstream& svg, const Grid& g) {
  svg << "<text x=\"" << number(Grid::left + Grid::cell * static_cast<double>(g.columns) / 2) << "\" y=\""
      << Grid::top - 28 << "\" text-anchor=\"middle\" fill=\"#444\">C3 feature map</text>\n";
  const double mid_y = Grid::top + Grid::cell * static_cast<double>(g.rows) / 2;
  svg << "<text x=\"40\" y=\"" << number(mid_y) << "\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 40 "
      << number(mid_y) << ")\">S2 feature map</text>\n";
  for (int64_t c = 0; c < g.columns; ++c) {
    svg << "<text x=\"" << number(Grid::left + Grid::cell * (static_cast<double>(c) + 0.5)) << "\" y=\""
        << Grid::top - 8 << "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">" << c << "</text>\n";
  }
  for (int64_t r = 0; r < g.rows; ++r) {
    svg << "<text x=\"" << Grid::left - 8 << "\" y=\""
        << number(Grid::top + Grid::cell * (static_cast<double>(r) + 0.5) + 4)
        << "\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">" << r << "</text>\n";
  }
}

void draw_grid_cells(std::ostringstream& svg, const Grid& g, const std::vector<std::vector<int64_t>>& table) {
  for (int64_t c = 0; c < g.columns; ++c) {
    const auto& inputs = table[static_cast<size_t>(c)];
    for (int64_t r = 0; r < g.rows; ++r) {
      const bool on = std::find(inputs.begin(), inputs.end(), r) != inputs.end();
      svg << "<rect x=\"" << number(Grid::left + Grid::cell * static_cast<double>(c)) << "\" y=\""
          << number(Grid::top + Grid::cell * static_cast<double>(r)) << "\" width=\"" << Grid::cell << "\" height=\""
          << Grid::cell << "\" fill=\"" << (on ? "#4e79a7" : "#ffffff") << "\" stroke=\"#b8b8c4\"><title>C3 map " << c
          << (on ? " reads" : " does not read") << " S2 map " << r << "</title></rect>\n";
    }
  }
  svg << "<rect x=\"" << Grid::left << "\" y=\"" << Grid::top << "\" width=\""
      << number(Grid::cell * static_cast<double>(g.columns)) << "\" height=\""
      << number(Grid::cell * static_cast<double>(g.rows)) << "\" fill=\"none\" stroke=\"#666\"/>\n";
}

// "3 maps read 4 · 1 map reads 6": how many C3 maps read how many S2 maps.
std::string fan_in_summary(const std::vector<std::vector<int64_t>>& table) {
  std::map<size_t, int> by_fan_in;
  for (const auto& inputs : table) ++by_fan_in[inputs.size()];
  std::string groups;
  for (const auto& [fan_in, count] : by_fan_in) {
    groups += (groups.empty() ? "" : " \xC2\xB7 ") + std::to_string(count) +
              (count == 1 ? " map reads " : " maps read ") + std::to_string(fan_in);
  }
  return groups;
}

// The variant's name as config.json writes it (model::variant_names(), which is torch-linked: not reachable here).
bool is_classic(const std::string& variant) { return variant == "classic"; }

}  // namespace

DiagramLayer input_layer(const std::string& variant) {
  const int64_t side = is_classic(variant) ? 32 : 28;
  return {"input", "Input", {1, side, side}, 0};
}

std::string shape_label(const DiagramLayer& layer) {
  if (is_feature_maps(layer.shape)) {
    return std::to_string(layer.shape[0]) + "@" + std::to_string(layer.shape[1]) + "\xC3\x97" +
           std::to_string(layer.shape[2]);
  }
  return std::to_string(units(layer.shape));
}

std::string architecture_svg(const std::vector<DiagramLayer>& given, const std::string& variant,
                             const DiagramOptions& options) {
  std::vector<DiagramLayer> layers;
  if (options.include_input && (given.empty() || given.front().kind != "Input")) layers.push_back(input_layer(variant));
  layers.insert(layers.end(), given.begin(), given.end());
  const Layout layout = layout_of(layers);
  const std::vector<Palette> legend = legend_of(layers);
  double legend_w = 0;
  for (const auto& p : legend) legend_w += legend_entry_width(p);

  const double title_h = 62;
  const double cy = title_h - layout.top + 10;             // y of the front faces' centres
  const double labels_y = cy + layout.bottom + kLabelGap;  // first label baseline
  const double legend_y = labels_y + 58;
  const double width = std::max(layout.right - kGap + kMargin, legend_w + 2 * kMargin);
  std::ostringstream svg;
  const std::string title = options.title.empty() ? "LeNet-5 (" + variant + ")" : options.title;
  open_svg(svg, width, legend_y + 30, title);
  svg << "<text x=\"" << kMargin << "\" y=\"30\" font-size=\"18\" font-weight=\"bold\" fill=\"#222\">" << escape(title)
      << "</text>\n";
  std::string subtitle = text::with_commas(layout.parameters) + " trainable parameters";
  if (!layers.empty() && layers.front().kind == "Input") subtitle += " \xC2\xB7 input " + shape_label(layers.front());
  svg << "<text x=\"" << kMargin << "\" y=\"50\" fill=\"#666\">" << escape(subtitle) << "</text>\n";
  for (size_t i = 0; i < layers.size(); ++i) draw_layer(svg, layers, layout, i, cy, labels_y);
  draw_legend(svg, legend, legend_y);
  svg << "</svg>\n";
  return svg.str();
}

std::string c3_table_svg(const std::vector<std::vector<int64_t>>& table, int64_t input_maps) {
  Grid grid;
  grid.rows = input_maps;
  int64_t connections = 0;
  for (const auto& inputs : table) {
    for (auto i : inputs) grid.rows = std::max(grid.rows, i + 1);
    connections += static_cast<int64_t>(inputs.size());
  }
  grid.columns = static_cast<int64_t>(table.size());
  const double width = Grid::left + Grid::cell * static_cast<double>(grid.columns) + 24;
  const double height = Grid::top + Grid::cell * static_cast<double>(grid.rows) + 62;
  std::ostringstream svg;
  open_svg(svg, width, height, "C3 connection table");
  svg << "<text x=\"24\" y=\"28\" font-size=\"16\" font-weight=\"bold\" fill=\"#222\">C3 connection table"
         " (LeCun et al., 1998, Table I)</text>\n";
  draw_grid_labels(svg, grid);
  draw_grid_cells(svg, grid, table);
  svg << "<text x=\"24\" y=\"" << number(height - 30) << "\" fill=\"#444\">" << connections << " of "
      << grid.columns * grid.rows << " possible connections</text>\n";
  svg << "<text x=\"24\" y=\"" << number(height - 12) << "\" fill=\"#777\">" << escape(fan_in_summary(table))
      << "</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace lenet5::report
