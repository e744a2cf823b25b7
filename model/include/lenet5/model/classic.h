// The published LeNet-5: 32x32 input field, scaled tanh, trainable subsampling, C3 connection table, Euclidean
// RBF output against the fixed digit bitmaps, the paper's initialisation, trained with the MAP criterion.
#pragma once

#include <torch/torch.h>

#include <ostream>
#include <vector>

#include "lenet5/model/lenet5.h"
#include "lenet5/model/paper_layers.h"

namespace lenet5::model {

class LeNet5ClassicImpl : public LeNet5Cloneable<LeNet5ClassicImpl> {
 public:
  LeNet5ClassicImpl() { reset(); }

  Variant variant() const override { return Variant::kClassic; }
  void reset() override;
  void reset_parameters() override;  // the paper's rule, uniform +-2.4/F, for every layer
  torch::Tensor forward(const torch::Tensor& images) override;
  std::vector<LayerActivation> forward_layers(const torch::Tensor& images) override;
  torch::Tensor preprocess(const torch::Tensor& images) const override;
  torch::Tensor loss(const torch::Tensor& scores, const torch::Tensor& targets) const override;  // MAP criterion
  void pretty_print(std::ostream& stream) const override { stream << "lenet5::model::LeNet5Classic"; }

  torch::nn::Conv2d C1{nullptr};
  Subsampling S2{nullptr};
  SparseConv2d C3{nullptr};
  Subsampling S4{nullptr};
  torch::nn::Conv2d C5{nullptr};
  torch::nn::Linear F6{nullptr};
  EuclideanRBF output{nullptr};

 protected:
  void lay_out_kernels(bool channels_last) override;

 private:
  void reset_parameters_except_c3();
};
TORCH_MODULE(LeNet5Classic);

}  // namespace lenet5::model
