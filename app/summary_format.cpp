#include "summary_format.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <sstream>

namespace lenet5::app {
namespace {

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

}  // namespace

std::string format_summary_table(const model::ModelSummary& summary) {
  std::ostringstream out;
  const std::string rule(78, '-');
  out << "LeNet-5 (" << model::variant_name(summary.variant) << ")\n" << rule << "\n";
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

std::string format_summary_json(const model::ModelSummary& summary) {
  using Json = nlohmann::ordered_json;  // keys in the order written
  Json layers = Json::array();
  for (const auto& layer : summary.layers) {
    layers.push_back({{"name", layer.name},
                      {"type", layer.type},
                      {"output_shape", layer.output_shape},
                      {"trainable_parameters", layer.trainable_parameters},
                      {"fixed_parameters", layer.fixed_parameters},
                      {"connections", layer.connections}});
  }
  const Json document = {{"variant", model::variant_name(summary.variant)},
                         {"layers", layers},
                         {"trainable_parameters", summary.trainable_parameters},
                         {"fixed_parameters", summary.fixed_parameters},
                         {"connections", summary.connections}};
  return document.dump();
}

}  // namespace lenet5::app
