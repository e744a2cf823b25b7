#include "lenet5/model/conv5x5.h"

#include "lenet5/native/convolution.h"

namespace lenet5::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;
constexpr auto kChannelsLast = torch::MemoryFormat::ChannelsLast;

native::Conv5x5Shape shape_of(const torch::Tensor& x, const torch::Tensor& weight) {
  return {x.size(0), x.size(2), x.size(3), x.size(1), weight.size(0)};
}

class Conv5x5Function : public torch::autograd::Function<Conv5x5Function> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    const auto input = x.contiguous(kChannelsLast), kernels = weight.contiguous(kChannelsLast);
    const auto shape = shape_of(input, kernels);
    auto out = torch::empty({shape.batch, shape.out_channels, shape.out_height(), shape.out_width()},
                            x.options().memory_format(kChannelsLast));
    native::conv5x5_forward(shape, input.data_ptr<float>(), kernels.data_ptr<float>(),
                            bias.contiguous().data_ptr<float>(), out.data_ptr<float>());
    ctx->save_for_backward({input, kernels});
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& input = saved[0];
    const auto& kernels = saved[1];
    const auto shape = shape_of(input, kernels);
    const auto grad_out = grad_outputs[0].contiguous(kChannelsLast);
    torch::Tensor grad_input;
    if (ctx->needs_input_grad(0)) {
      grad_input = torch::empty(input.sizes(), input.options().memory_format(kChannelsLast));
      native::conv5x5_input_gradient(shape, grad_out.data_ptr<float>(), kernels.data_ptr<float>(),
                                     grad_input.data_ptr<float>());
    }
    auto grad_weight = torch::empty(kernels.sizes(), kernels.options().memory_format(kChannelsLast));
    auto grad_bias = torch::empty({shape.out_channels}, kernels.options());
    native::conv5x5_weight_gradient(shape, input.data_ptr<float>(), grad_out.data_ptr<float>(),
                                    grad_weight.data_ptr<float>(), grad_bias.data_ptr<float>());
    return {grad_input, grad_weight, grad_bias};
  }
};

}  // namespace

bool conv5x5_has_fast_path(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto cpu_float = [](const torch::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.layout() == torch::kStrided;
  };
  return cpu_float(x) && cpu_float(weight) && cpu_float(bias) && at::get_num_threads() == 1 && x.dim() == 4 &&
         weight.dim() == 4 && weight.size(1) == x.size(1) && weight.size(2) == 5 && weight.size(3) == 5 &&
         x.size(1) <= 16 && weight.size(0) <= 16 && bias.dim() == 1 && bias.size(0) == weight.size(0);
}

torch::Tensor conv5x5(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, int64_t padding) {
  if (!conv5x5_has_fast_path(x, weight, bias) || x.size(2) + 2 * padding < 5 || x.size(3) + 2 * padding < 5) {
    return torch::conv2d(x, weight, bias, /*stride=*/1, padding);
  }
  const auto padded = padding == 0 ? x : torch::constant_pad_nd(x, {padding, padding, padding, padding});
  return Conv5x5Function::apply(padded, weight, bias);
}

}  // namespace lenet5::model
