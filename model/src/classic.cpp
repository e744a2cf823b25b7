#include "lenet5/model/classic.h"

#include "lenet5/model/conv5x5.h"
#include "lenet5/model/loss.h"
#include "registration.h"

namespace lenet5::model {

using detail::register_or_replace_module;

void LeNet5ClassicImpl::reset() {
  namespace nn = torch::nn;
  // Each layer draws its initial values as it is built: LibTorch's rule for C1, C5 and F6, the paper's for the
  // others. The image is padded to the paper's 32x32 field in preprocess(), so C1 has no padding.
  C1 = register_or_replace_module(*this, "C1", nn::Conv2d(nn::Conv2dOptions(1, 6, 5)));
  S2 = register_or_replace_module(*this, "S2", Subsampling(6));
  C3 = register_or_replace_module(*this, "C3", SparseConv2d(SparseConv2dOptions(6, c3_connection_table(), 5)));
  S4 = register_or_replace_module(*this, "S4", Subsampling(16));
  C5 = register_or_replace_module(*this, "C5", nn::Conv2d(nn::Conv2dOptions(16, 120, 5)));
  F6 = register_or_replace_module(*this, "F6", nn::Linear(120, 84));
  output = register_or_replace_module(*this, "output", EuclideanRBF(rbf_prototypes()));
  reset_parameters_except_c3();
  lay_out_kernels(channels_last());
}

void LeNet5ClassicImpl::reset_parameters() {
  C3->reset_parameters();
  reset_parameters_except_c3();
}

// The paper's rule for every layer but C3, whose own reset() drew its values by that rule already. S2 and S4
// are drawn again too: this is the order of the random stream that every seeded figure in the README comes from.
void LeNet5ClassicImpl::reset_parameters_except_c3() {
  paper_uniform_(C1->weight, 25);
  paper_uniform_(C1->bias, 25);
  S2->reset_parameters();
  S4->reset_parameters();
  paper_uniform_(C5->weight, 16 * 25);
  paper_uniform_(C5->bias, 16 * 25);
  paper_uniform_(F6->weight, 120);
  paper_uniform_(F6->bias, 120);
}

void LeNet5ClassicImpl::lay_out_kernels(bool channels_last) {
  // C5 runs as a matrix product (full_field_convolution): kept NCHW.
  const auto format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  C1->weight.set_data(C1->weight.contiguous(format));
  C3->set_channels_last(channels_last);
}

torch::Tensor LeNet5ClassicImpl::preprocess(const torch::Tensor& images) const {
  auto padded = torch::constant_pad_nd(images, {kPaperPadding, kPaperPadding, kPaperPadding, kPaperPadding}, 0.0);
  return padded * kClassicInkRange + kClassicBackground;
}

torch::Tensor LeNet5ClassicImpl::forward(const torch::Tensor& images) {
  // C1 through conv5x5 (lenet5::native's kernels on the CPU, torch::conv2d elsewhere); C3 uses it itself.
  auto x = scaled_tanh(conv5x5(preprocess(images), C1->weight, C1->bias));
  x = scaled_tanh(S2->forward(x));
  x = scaled_tanh(C3->forward(x));
  x = scaled_tanh(S4->forward(x));
  x = scaled_tanh(full_field_convolution(C5, x));
  x = scaled_tanh(F6->forward(x.flatten(1)));
  return output->forward(x);
}

std::vector<LayerActivation> LeNet5ClassicImpl::forward_layers(const torch::Tensor& images) {
  std::vector<LayerActivation> layers;
  layers.reserve(7);
  auto x = scaled_tanh(C1->forward(preprocess(images)));
  layers.push_back({"C1", LayerKind::kConvolution, x});
  x = scaled_tanh(S2->forward(x));
  layers.push_back({"S2", LayerKind::kSubsampling, x});
  x = scaled_tanh(C3->forward(x));
  layers.push_back({"C3", LayerKind::kConvolution, x});
  x = scaled_tanh(S4->forward(x));
  layers.push_back({"S4", LayerKind::kSubsampling, x});
  x = scaled_tanh(full_field_convolution(C5, x));
  layers.push_back({"C5", LayerKind::kConvolution, x});
  x = scaled_tanh(F6->forward(x.flatten(1)));
  layers.push_back({"F6", LayerKind::kFullyConnected, x});
  layers.push_back({"output", LayerKind::kRBF, output->forward(x)});
  return layers;
}

torch::Tensor LeNet5ClassicImpl::loss(const torch::Tensor& scores, const torch::Tensor& targets) const {
  return map_criterion(scores, targets);
}

}  // namespace lenet5::model
