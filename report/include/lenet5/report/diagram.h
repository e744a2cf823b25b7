// SVG figures of the network: a layered architecture diagram and the C3 connection table. Inputs are plain
// structs (the app converts model::ModelSummary into them), so nothing here needs torch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lenet5::report {

struct DiagramLayer {
  std::string name;            // input, C1, S2, C3, S4, C5, F6, output
  std::string kind;            // Input, Convolution, Subsampling, MaxPool, FullyConnected, EuclideanRBF
  std::vector<int64_t> shape;  // output shape without the batch: {maps, rows, columns} or {units}
  int64_t trainable_parameters = 0;
};

struct DiagramOptions {
  bool include_input = true;  // draw the variant's input image first unless `layers` already starts with one
  std::string title;          // default: "LeNet-5 (<variant>)"
};

// The image C1 sees: 1@32x32 for classic (the paper pads MNIST to 32x32), 1@28x28 for modern.
DiagramLayer input_layer(const std::string& variant);
// "6@28×28" for feature maps, "84" for vectors (C5's 120@1×1 counts as a vector of 120).
std::string shape_label(const DiagramLayer& layer);

// A visualkeras-style diagram: each layer a stack of feature maps or a 3D bar sized by its output shape
// (square-root scaling), coloured by kind, labelled with name, shape and parameters, with a legend.
std::string architecture_svg(const std::vector<DiagramLayer>& layers, const std::string& variant,
                             const DiagramOptions& options = {});

// The C3 connection table (one column per C3 map, one row per S2 map, filled where connected).
// `table[c]` lists the S2 maps feeding C3 map c.
std::string c3_table_svg(const std::vector<std::vector<int64_t>>& table, int64_t input_maps = 6);

}  // namespace lenet5::report
