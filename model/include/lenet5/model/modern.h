// LeNet-5 as it is written today: ReLU, 2x2 max pooling, dense C3, a linear 10-way output and cross-entropy,
// LibTorch's default initialisation.
#pragma once

#include <torch/torch.h>

#include <ostream>
#include <vector>

#include "lenet5/model/lenet5.h"
#include "lenet5/model/max_pool.h"

namespace lenet5::model {

class LeNet5ModernImpl : public LeNet5Cloneable<LeNet5ModernImpl> {
 public:
  LeNet5ModernImpl() { reset(); }

  Variant variant() const override { return Variant::kModern; }
  void reset() override;
  void reset_parameters() override;  // LibTorch's rule for each layer
  torch::Tensor forward(const torch::Tensor& images) override;
  std::vector<LayerActivation> forward_layers(const torch::Tensor& images) override;
  torch::Tensor preprocess(const torch::Tensor& images) const override;
  torch::Tensor loss(const torch::Tensor& scores, const torch::Tensor& targets) const override;  // cross-entropy
  void pretty_print(std::ostream& stream) const override { stream << "lenet5::model::LeNet5Modern"; }

  torch::nn::Conv2d C1{nullptr};
  MaxPool2x2 S2{nullptr};
  torch::nn::Conv2d C3{nullptr};
  MaxPool2x2 S4{nullptr};
  torch::nn::Conv2d C5{nullptr};
  torch::nn::Linear F6{nullptr};
  torch::nn::Linear output{nullptr};

 protected:
  void lay_out_kernels(bool channels_last) override;
};
TORCH_MODULE(LeNet5Modern);

}  // namespace lenet5::model
