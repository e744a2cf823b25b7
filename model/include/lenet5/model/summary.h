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

// The counts of each layer (app/summary_format.h prints them).
ModelSummary summarize(LeNet5& model);

}  // namespace lenet5::model
