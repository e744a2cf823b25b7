#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lenet5/model/lenet5.h"

namespace lenet5::model {

struct LayerSummary {
  std::string name;
  std::string type;
  std::vector<int64_t> output_shape;  // without the batch dimension
  int64_t trainable_parameters = 0;
  int64_t fixed_parameters = 0;  // buffers that are weights (the RBF prototypes), not index tables
  int64_t connections = 0;       // multiply-adds feeding the layer's outputs, biases counted as one each
};

struct ModelSummary {
  Variant variant;
  std::vector<LayerSummary> layers;
  int64_t trainable_parameters = 0;
  int64_t fixed_parameters = 0;
  int64_t connections = 0;
};

ModelSummary summarize(LeNet5& model);
std::string format_summary_table(const ModelSummary& summary);
std::string format_summary_json(const ModelSummary& summary);

}  // namespace lenet5::model
