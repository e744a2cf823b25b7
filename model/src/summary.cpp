#include "lenet5/model/summary.h"

#include <iomanip>
#include <sstream>

namespace lenet5::model {
namespace {

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream text;
  text << "(";
  for (size_t i = 0; i < shape.size(); ++i) text << (i ? ", " : "") << shape[i];
  text << ")";
  return text.str();
}

std::string with_commas(int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

// Connections feeding a layer's outputs. A convolution's trainable weights are shared across positions, so
// each output position uses them all once; pooling units read a 2x2 window (plus a bias when trainable).
int64_t count_connections(LayerKind kind, const std::vector<int64_t>& shape, int64_t trainable, int64_t fixed) {
  switch (kind) {
    case LayerKind::kConvolution: return trainable * shape[1] * shape[2];
    case LayerKind::kSubsampling: return product(shape) * 5;
    case LayerKind::kMaxPool: return product(shape) * 4;
    case LayerKind::kFullyConnected: return trainable;
    case LayerKind::kRBF: return fixed;
  }
  return 0;
}

}  // namespace

ModelSummary summarize(LeNet5& model) {
  ModelSummary summary{model->variant(), {}, 0, 0, 0};
  torch::NoGradGuard no_grad;
  auto sample = torch::zeros({1, 1, kImageSide, kImageSide});
  const auto children = model->named_children();
  for (const auto& layer : model->forward_layers(sample)) {
    LayerSummary row;
    row.name = layer.name;
    row.type = layer_kind_name(layer.kind);
    row.output_shape.assign(layer.output.sizes().begin() + 1, layer.output.sizes().end());
    const auto& module = children[layer.name];
    for (const auto& parameter : module->parameters()) {
      (parameter.requires_grad() ? row.trainable_parameters : row.fixed_parameters) += parameter.numel();
    }
    for (const auto& buffer : module->named_buffers()) {
      if (buffer.value().is_floating_point()) row.fixed_parameters += buffer.value().numel();
    }
    row.connections = count_connections(layer.kind, row.output_shape, row.trainable_parameters, row.fixed_parameters);
    summary.trainable_parameters += row.trainable_parameters;
    summary.fixed_parameters += row.fixed_parameters;
    summary.connections += row.connections;
    summary.layers.push_back(row);
  }
  return summary;
}

std::string format_summary_table(const ModelSummary& summary) {
  std::ostringstream out;
  const std::string rule(78, '-');
  out << "LeNet-5 (" << variant_name(summary.variant) << ")\n" << rule << "\n";
  out << std::left << std::setw(8) << "Layer" << std::setw(16) << "Type" << std::setw(16) << "Output shape"
      << std::right << std::setw(12) << "Params" << std::setw(12) << "Fixed" << std::setw(14) << "Connections"
      << "\n"
      << std::string(78, '=') << "\n";
  for (const auto& layer : summary.layers) {
    out << std::left << std::setw(8) << layer.name << std::setw(16) << layer.type << std::setw(16)
        << shape_text(layer.output_shape) << std::right << std::setw(12) << with_commas(layer.trainable_parameters)
        << std::setw(12) << with_commas(layer.fixed_parameters) << std::setw(14) << with_commas(layer.connections)
        << "\n";
  }
  out << rule << "\n"
      << "Trainable parameters: " << with_commas(summary.trainable_parameters) << "\n"
      << "Fixed parameters:     " << with_commas(summary.fixed_parameters) << "\n"
      << "Connections:          " << with_commas(summary.connections) << "\n";
  return out.str();
}

std::string format_summary_json(const ModelSummary& summary) {
  std::ostringstream out;
  out << "{\"variant\": \"" << variant_name(summary.variant) << "\", \"layers\": [";
  for (size_t i = 0; i < summary.layers.size(); ++i) {
    const auto& layer = summary.layers[i];
    out << (i ? ", " : "") << "{\"name\": \"" << layer.name << "\", \"type\": \"" << layer.type
        << "\", \"output_shape\": [";
    for (size_t d = 0; d < layer.output_shape.size(); ++d) out << (d ? ", " : "") << layer.output_shape[d];
    out << "], \"trainable_parameters\": " << layer.trainable_parameters
        << ", \"fixed_parameters\": " << layer.fixed_parameters << ", \"connections\": " << layer.connections << "}";
  }
  out << "], \"trainable_parameters\": " << summary.trainable_parameters
      << ", \"fixed_parameters\": " << summary.fixed_parameters << ", \"connections\": " << summary.connections
      << "}";
  return out.str();
}

}  // namespace lenet5::model
