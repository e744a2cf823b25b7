#include "lenet5/model/conv5x5.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "lenet5/native/convolution.h"

namespace lenet5::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;
constexpr auto kChannelsLast = torch::MemoryFormat::ChannelsLast;

native::Conv5x5Shape shape_of(const torch::Tensor& x, const torch::Tensor& weight) {
  return {x.size(0), x.size(2), x.size(3), x.size(1), weight.size(0)};
}

// A batch's fixed shares: one per intra-op thread, 8 images at least.
int64_t share_count(const native::Conv5x5Shape& shape) {
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), shape.batch / 8));
}

// Runs body(share, shape of the share's images, first image) over the shares on ATen's intra-op threads: the
// pool the rest of the step runs on (a second pool's threads would compete with its spinning ones), and which
// thread takes which share never changes a result.

template <class Body>
void over_shares(const native::Conv5x5Shape& shape, const Body& body) {
  const int64_t shares = share_count(shape);
  at::parallel_for(0, shares, 1, [&](int64_t begin, int64_t end) {
    for (int64_t share = begin; share < end; ++share) {
      const int64_t first = shape.batch * share / shares, last = shape.batch * (share + 1) / shares;
      auto part = shape;
      part.batch = last - first;
      body(share, part, first);
    }
  });
}

class Conv5x5Function : public torch::autograd::Function<Conv5x5Function> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    const auto input = x.contiguous(kChannelsLast), kernels = weight.contiguous(kChannelsLast);
    const auto shape = shape_of(input, kernels);
    auto out = torch::empty({shape.batch, shape.out_channels, shape.out_height(), shape.out_width()},
                            x.options().memory_format(kChannelsLast));
    const auto bias_values = bias.contiguous();
    const int64_t image_in = shape.height * shape.width * shape.in_channels;
    const int64_t image_out = shape.out_height() * shape.out_width() * shape.out_channels;
    over_shares(shape, [&](int64_t, const native::Conv5x5Shape& part, int64_t first) {
      native::conv5x5_forward(part, input.data_ptr<float>() + first * image_in, kernels.data_ptr<float>(),
                              bias_values.data_ptr<float>(), out.data_ptr<float>() + first * image_out);
    });
    ctx->save_for_backward({input, kernels});
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& input = saved[0];
    const auto& kernels = saved[1];
    const auto shape = shape_of(input, kernels);
    const auto grad_out = grad_outputs[0].contiguous(kChannelsLast);
    const int64_t image_in = shape.height * shape.width * shape.in_channels;
    const int64_t image_out = shape.out_height() * shape.out_width() * shape.out_channels;
    torch::Tensor grad_input;
    if (ctx->needs_input_grad(0)) {
      grad_input = torch::empty(input.sizes(), input.options().memory_format(kChannelsLast));
      over_shares(shape, [&](int64_t, const native::Conv5x5Shape& part, int64_t first) {
        native::conv5x5_input_gradient(part, grad_out.data_ptr<float>() + first * image_out, kernels.data_ptr<float>(),
                                       grad_input.data_ptr<float>() + first * image_in);
      });
    }
    // Each share's sums, then the shares' sums in order.
    const int64_t shares = share_count(shape);
    auto weight_sums = torch::empty({shares, kernels.numel()}, kernels.options());
    auto bias_sums = torch::empty({shares, shape.out_channels}, kernels.options());
    over_shares(shape, [&](int64_t share, const native::Conv5x5Shape& part, int64_t first) {
      native::conv5x5_weight_gradient(part, input.data_ptr<float>() + first * image_in,
                                      grad_out.data_ptr<float>() + first * image_out,
                                      weight_sums[share].data_ptr<float>(), bias_sums[share].data_ptr<float>());
    });
    // [O][5][5][I] in memory: the channels-last layout of [O][I][5][5].
    auto grad_weight = weight_sums.sum(0).view({shape.out_channels, 5, 5, shape.in_channels}).permute({0, 3, 1, 2});
    auto grad_bias = bias_sums.sum(0);
    return {grad_input, grad_weight, grad_bias};
  }
};

}  // namespace

bool conv5x5_has_fast_path(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto cpu_float = [](const torch::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.layout() == torch::kStrided;
  };
  return cpu_float(x) && cpu_float(weight) && cpu_float(bias) && x.dim() == 4 && weight.dim() == 4 &&
         weight.size(1) == x.size(1) && weight.size(2) == 5 && weight.size(3) == 5 && x.size(1) <= 16 &&
         weight.size(0) <= 16 && bias.dim() == 1 && bias.size(0) == weight.size(0);
}

torch::Tensor conv5x5(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, int64_t padding) {
  if (!conv5x5_has_fast_path(x, weight, bias) || x.size(2) + 2 * padding < 5 || x.size(3) + 2 * padding < 5) {
    return torch::conv2d(x, weight, bias, /*stride=*/1, padding);
  }
  const auto padded = padding == 0 ? x : torch::constant_pad_nd(x, {padding, padding, padding, padding});
  return Conv5x5Function::apply(padded, weight, bias);
}

}  // namespace lenet5::model
