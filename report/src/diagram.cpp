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

bool is_feature_maps(const std::vector<int64_t>& shape) {
  return shape.size() == 3 && (shape[1] > 1 || shape[2] > 1);
}

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
  double step = 0;    // offset between stacked maps (or the depth of a bar)
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
  svg << "<polygon points=\"" << number(x + w) << "," << number(y) << " " << number(x + w + d) << ","
      << number(y - d) << " " << number(x + w + d) << "," << number(y + h - d) << " " << number(x + w) << ","
      << number(y + h) << "\" fill=\"" << p.dark << "\" stroke=\"" << p.dark << "\" stroke-width=\"1\"/>\n";
  svg << "<rect x=\"" << number(x) << "\" y=\"" << number(y) << "\" width=\"" << number(w) << "\" height=\""
      << number(h) << "\" fill=\"" << p.fill << "\" stroke=\"" << p.dark << "\" stroke-width=\"1\"/>\n";
}

}  // namespace

DiagramLayer input_layer(const std::string& variant) {
  const int64_t side = variant == "classic" ? 32 : 28;
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

  const double margin = 24, gap = 34, label_gap = 22;
  std::vector<Shape> shapes;
  std::vector<double> slot_x, slot_w;
  double x = margin, top = 0, bottom = 0;
  int64_t parameters = 0;
  for (const auto& layer : layers) {
    shapes.push_back(shape_of(layer));
    const Shape& s = shapes.back();
    const std::string params = layer.trainable_parameters > 0 ? text::with_commas(layer.trainable_parameters) + " params" : "";
    const double w = std::max({s.width(), text_width(layer.name, 9.5), text_width(shape_label(layer), 7.4),
                               text_width(params, 6.6)});
    slot_x.push_back(x);
    slot_w.push_back(w);
    x += w + gap;
    top = std::min(top, s.top());
    bottom = std::max(bottom, s.bottom());
    parameters += layer.trainable_parameters;
  }

  // Legend entries in order of first appearance, one per colour label.
  std::vector<Palette> legend;
  for (const auto& layer : layers) {
    const Palette p = palette_for(layer.kind);
    if (std::none_of(legend.begin(), legend.end(), [&](const Palette& q) { return std::string(q.legend) == p.legend; })) {
      legend.push_back(p);
    }
  }
  double legend_w = 0;
  for (const auto& p : legend) legend_w += 26 + text_width(p.legend, 7.0) + 18;

  const double title_h = 62;
  const double cy = title_h - top + 10;             // y of the front faces' centres
  const double labels_y = cy + bottom + label_gap;  // first label baseline
  const double legend_y = labels_y + 58;
  const double width = std::max(x - gap + margin, legend_w + 2 * margin);
  const double height = legend_y + 30;

  std::ostringstream svg;
  const std::string title = options.title.empty() ? "LeNet-5 (" + variant + ")" : options.title;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width, 0) << "\" height=\"" << number(height, 0)
      << "\" viewBox=\"0 0 " << number(width, 0) << " " << number(height, 0) << "\" font-family=\"" << kFont
      << "\" font-size=\"12\" role=\"img\">\n";
  svg << "<title>" << escape(title) << "</title>\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg << "<text x=\"" << margin << "\" y=\"30\" font-size=\"18\" font-weight=\"bold\" fill=\"#222\">" << escape(title)
      << "</text>\n";
  std::string subtitle = text::with_commas(parameters) + " trainable parameters";
  if (!layers.empty() && layers.front().kind == "Input") subtitle += " \xC2\xB7 input " + shape_label(layers.front());
  svg << "<text x=\"" << margin << "\" y=\"50\" fill=\"#666\">" << escape(subtitle) << "</text>\n";

  for (size_t i = 0; i < layers.size(); ++i) {
    const Shape& s = shapes[i];
    const double left = slot_x[i] + (slot_w[i] - s.width()) / 2;
    svg << "<g><title>" << escape(layers[i].name + ": " + layers[i].kind + ", " + shape_label(layers[i]) + ", " +
                                 text::with_commas(layers[i].trainable_parameters) + " trainable parameters")
        << "</title>\n";
    draw(svg, s, palette_for(layers[i].kind), left, cy);
    svg << "</g>\n";
    if (i + 1 < layers.size()) {  // arrow to the next layer
      const double from = left + s.width() + 5;
      const double next_left = slot_x[i + 1] + (slot_w[i + 1] - shapes[i + 1].width()) / 2;
      const double to = next_left - 5;
      if (to - from > 8) {
        svg << "<line x1=\"" << number(from) << "\" y1=\"" << number(cy) << "\" x2=\"" << number(to - 6) << "\" y2=\""
            << number(cy) << "\" stroke=\"#9a9a9a\" stroke-width=\"1.5\"/>\n";
        svg << "<polygon points=\"" << number(to) << "," << number(cy) << " " << number(to - 7) << ","
            << number(cy - 4) << " " << number(to - 7) << "," << number(cy + 4) << "\" fill=\"#9a9a9a\"/>\n";
      }
    }
    const double mid = slot_x[i] + slot_w[i] / 2;
    svg << "<text x=\"" << number(mid) << "\" y=\"" << number(labels_y) << "\" text-anchor=\"middle\" font-size=\"15\""
        << " font-weight=\"bold\" fill=\"#222\">" << escape(layers[i].name) << "</text>\n";
    svg << "<text x=\"" << number(mid) << "\" y=\"" << number(labels_y + 17) << "\" text-anchor=\"middle\" fill=\"#333\">"
        << escape(shape_label(layers[i])) << "</text>\n";
    if (layers[i].trainable_parameters > 0) {
      svg << "<text x=\"" << number(mid) << "\" y=\"" << number(labels_y + 32)
          << "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#777\">"
          << text::with_commas(layers[i].trainable_parameters) << " params</text>\n";
    }
  }

  double lx = margin;
  for (const auto& p : legend) {
    svg << "<rect x=\"" << number(lx) << "\" y=\"" << number(legend_y - 11) << "\" width=\"14\" height=\"14\" rx=\"2\""
        << " fill=\"" << p.fill << "\" stroke=\"" << p.dark << "\"/>\n";
    svg << "<text x=\"" << number(lx + 20) << "\" y=\"" << number(legend_y) << "\" fill=\"#333\">" << escape(p.legend)
        << "</text>\n";
    lx += 26 + text_width(p.legend, 7.0) + 18;
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string c3_table_svg(const std::vector<std::vector<int64_t>>& table, int64_t input_maps) {
  int64_t rows = input_maps;
  int64_t connections = 0;
  std::map<size_t, int> by_fan_in;
  for (const auto& inputs : table) {
    for (auto i : inputs) rows = std::max(rows, i + 1);
    connections += static_cast<int64_t>(inputs.size());
    ++by_fan_in[inputs.size()];
  }
  const auto columns = static_cast<int64_t>(table.size());
  const double cell = 24, left = 96, top = 84;
  const double width = left + cell * static_cast<double>(columns) + 24;
  const double height = top + cell * static_cast<double>(rows) + 62;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width, 0) << "\" height=\"" << number(height, 0)
      << "\" viewBox=\"0 0 " << number(width, 0) << " " << number(height, 0) << "\" font-family=\"" << kFont
      << "\" font-size=\"12\" role=\"img\">\n";
  svg << "<title>C3 connection table</title>\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg << "<text x=\"24\" y=\"28\" font-size=\"16\" font-weight=\"bold\" fill=\"#222\">C3 connection table"
         " (LeCun et al., 1998, Table I)</text>\n";
  svg << "<text x=\"" << number(left + cell * static_cast<double>(columns) / 2) << "\" y=\"" << top - 28
      << "\" text-anchor=\"middle\" fill=\"#444\">C3 feature map</text>\n";
  const double mid_y = top + cell * static_cast<double>(rows) / 2;
  svg << "<text x=\"40\" y=\"" << number(mid_y) << "\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 40 "
      << number(mid_y) << ")\">S2 feature map</text>\n";
  for (int64_t c = 0; c < columns; ++c) {
    svg << "<text x=\"" << number(left + cell * (static_cast<double>(c) + 0.5)) << "\" y=\"" << top - 8
        << "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">" << c << "</text>\n";
  }
  for (int64_t r = 0; r < rows; ++r) {
    svg << "<text x=\"" << left - 8 << "\" y=\"" << number(top + cell * (static_cast<double>(r) + 0.5) + 4)
        << "\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">" << r << "</text>\n";
  }
  for (int64_t c = 0; c < columns; ++c) {
    const auto& inputs = table[static_cast<size_t>(c)];
    for (int64_t r = 0; r < rows; ++r) {
      const bool on = std::find(inputs.begin(), inputs.end(), r) != inputs.end();
      svg << "<rect x=\"" << number(left + cell * static_cast<double>(c)) << "\" y=\""
          << number(top + cell * static_cast<double>(r)) << "\" width=\"" << cell << "\" height=\"" << cell
          << "\" fill=\"" << (on ? "#4e79a7" : "#ffffff") << "\" stroke=\"#b8b8c4\"><title>C3 map " << c
          << (on ? " reads" : " does not read") << " S2 map " << r << "</title></rect>\n";
    }
  }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << number(cell * static_cast<double>(columns))
      << "\" height=\"" << number(cell * static_cast<double>(rows)) << "\" fill=\"none\" stroke=\"#666\"/>\n";
  svg << "<text x=\"24\" y=\"" << number(height - 30) << "\" fill=\"#444\">" << connections << " of " << columns * rows
      << " possible connections</text>\n";
  std::string groups;
  for (const auto& [fan_in, count] : by_fan_in) {
    groups += (groups.empty() ? "" : " \xC2\xB7 ") + std::to_string(count) + (count == 1 ? " map reads " : " maps read ") +
              std::to_string(fan_in);
  }
  svg << "<text x=\"24\" y=\"" << number(height - 12) << "\" fill=\"#777\">" << escape(groups) << "</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace lenet5::report
