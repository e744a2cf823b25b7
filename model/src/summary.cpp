#include "lenet5/model/summary.h"

namespace lenet5::model {
namespace {

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
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

}  // namespace lenet5::model
