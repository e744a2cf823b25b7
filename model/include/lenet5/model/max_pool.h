// 2x2 max pooling with stride 2, the modern variant's S2 and S4.
#pragma once

#include <torch/torch.h>

#include <ostream>

namespace lenet5::model {

// Same result and gradient as torch::max_pool2d(x, 2) (ties and NaN included) for x [N,C,H,W].
// Float32 CPU tensors in NCHW or channels-last layout go through a dedicated kernel, several times faster
// than ATen's general pooling for LeNet's small maps; any other input falls back to torch::max_pool2d.
torch::Tensor max_pool_2x2(const torch::Tensor& x);

// Whether max_pool_2x2 handles `x` with its own kernel rather than torch::max_pool2d.
bool max_pool_2x2_has_fast_path(const torch::Tensor& x);

// max_pool_2x2 as a module (no parameters), so S2 and S4 show up among the network's layers.
class MaxPool2x2Impl : public torch::nn::Cloneable<MaxPool2x2Impl> {
 public:
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& x) { return max_pool_2x2(x); }
  void pretty_print(std::ostream& stream) const override { stream << "lenet5::model::MaxPool2x2()"; }
};
TORCH_MODULE(MaxPool2x2);

}  // namespace lenet5::model
