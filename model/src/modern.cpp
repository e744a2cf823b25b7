#include "lenet5/model/modern.h"

#include "lenet5/model/conv5x5.h"
#include "registration.h"

namespace lenet5::model {

using detail::register_or_replace_module;

void LeNet5ModernImpl::reset() {
  namespace nn = torch::nn;
  // C1 pads inside the convolution: 28x28 in, 28x28 out.
  C1 = register_or_replace_module(*this, "C1", nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)));
  S2 = register_or_replace_module(*this, "S2", MaxPool2x2());
  C3 = register_or_replace_module(*this, "C3", nn::Conv2d(nn::Conv2dOptions(6, 16, 5)));
  S4 = register_or_replace_module(*this, "S4", MaxPool2x2());
  C5 = register_or_replace_module(*this, "C5", nn::Conv2d(nn::Conv2dOptions(16, 120, 5)));
  F6 = register_or_replace_module(*this, "F6", nn::Linear(120, 84));
  output = register_or_replace_module(*this, "output", nn::Linear(84, kNumClasses));
  lay_out_kernels(channels_last());
}

void LeNet5ModernImpl::reset_parameters() {
  for (auto* conv : {&C1, &C3, &C5}) (*conv)->reset_parameters();
  for (auto* linear : {&F6, &output}) (*linear)->reset_parameters();
}

void LeNet5ModernImpl::lay_out_kernels(bool channels_last) {
  // C5 runs as a matrix product (full_field_convolution): kept NCHW.
  const auto format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  for (auto* conv : {&C1, &C3}) (*conv)->weight.set_data((*conv)->weight.contiguous(format));
}

torch::Tensor LeNet5ModernImpl::preprocess(const torch::Tensor& images) const {
  return (images - kMnistMean) / kMnistStd;
}

torch::Tensor LeNet5ModernImpl::forward(const torch::Tensor& images) {
  // The same function as forward_layers, arranged for speed: pooling before ReLU (they commute, and ReLU then
  // runs on a quarter of the values, gradients included) and C5 as one matrix product.
  // C1 and C3 through conv5x5 (lenet5::native's kernels on one CPU thread, torch::conv2d elsewhere).
  auto x = preprocess(images);
  x = torch::relu(S2->forward(conv5x5(x, C1->weight, C1->bias, /*padding=*/2)));
  x = torch::relu(S4->forward(conv5x5(x, C3->weight, C3->bias)));
  x = torch::relu(full_field_convolution(C5, x).flatten(1));
  x = torch::relu(F6->forward(x));
  return output->forward(x);
}

std::vector<LayerActivation> LeNet5ModernImpl::forward_layers(const torch::Tensor& images) {
  std::vector<LayerActivation> layers;
  layers.reserve(7);
  auto x = torch::relu(C1->forward(preprocess(images)));
  layers.push_back({"C1", LayerKind::kConvolution, x});
  x = S2->forward(x);
  layers.push_back({"S2", LayerKind::kMaxPool, x});
  x = torch::relu(C3->forward(x));
  layers.push_back({"C3", LayerKind::kConvolution, x});
  x = S4->forward(x);
  layers.push_back({"S4", LayerKind::kMaxPool, x});
  x = torch::relu(full_field_convolution(C5, x));
  layers.push_back({"C5", LayerKind::kConvolution, x});
  x = torch::relu(F6->forward(x.flatten(1)));
  layers.push_back({"F6", LayerKind::kFullyConnected, x});
  layers.push_back({"output", LayerKind::kFullyConnected, output->forward(x)});
  return layers;
}

torch::Tensor LeNet5ModernImpl::loss(const torch::Tensor& scores, const torch::Tensor& targets) const {
  return torch::nn::functional::cross_entropy(scores, targets);
}

}  // namespace lenet5::model
