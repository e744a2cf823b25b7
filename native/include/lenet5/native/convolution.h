// LeNet-5's 5x5 convolutions for training, without a framework: the forward pass, the input's gradient and
// the weights' gradient of a convolution with stride 1 and no padding, over tensors in the layouts of
// LibTorch's channels-last tensors (images [N][H][W][C], weights [O][5][5][I]). One thread (model::conv5x5
// splits a batch over ATen's threads); AVX2/FMA where the CPU has it, plain loops elsewhere (and as the
// reference the AVX2 kernels are tested against).
// model::conv5x5 wraps them as an autograd function.
#pragma once

#include <cstdint>

#include "lenet5/native/plan.h"  // Isa

namespace lenet5::native {

struct Conv5x5Shape {
  int64_t batch = 0, height = 0, width = 0;  // the input's
  int64_t in_channels = 0, out_channels = 0;
  int64_t out_height() const { return height - 4; }
  int64_t out_width() const { return width - 4; }
};

// out [N][H-4][W-4][O] = bias[o] + the sum over the 5x5 window and the I channels of in * weight.
void conv5x5_forward(const Conv5x5Shape& shape, const float* in, const float* weight, const float* bias, float* out,
                     Isa isa = best_isa());

// grad_in [N][H][W][I] from grad_out [N][H-4][W-4][O]: each input's share of every output it fed.
void conv5x5_input_gradient(const Conv5x5Shape& shape, const float* grad_out, const float* weight, float* grad_in,
                            Isa isa = best_isa());

// grad_weight [O][5][5][I] and grad_bias [O], summed over the batch (overwritten, not added to).
void conv5x5_weight_gradient(const Conv5x5Shape& shape, const float* in, const float* grad_out, float* grad_weight,
                             float* grad_bias, Isa isa = best_isa());

}  // namespace lenet5::native
