// `lenet5 summary`: the model's layer counts as a table (README, "The CLI") or as one JSON object.
#pragma once

#include <string>

#include "lenet5/model/summary.h"

namespace lenet5::app {

std::string format_summary_table(const model::ModelSummary& summary);
// One line: {"variant", "layers": [{"name", "type", "output_shape", "trainable_parameters", "fixed_parameters",
// "connections"}...], "trainable_parameters", "fixed_parameters", "connections"}, keys in that order.
std::string format_summary_json(const model::ModelSummary& summary);

}  // namespace lenet5::app
