// LeNet-5's 5x5 convolutions (stride 1) for training and inference on the CPU through lenet5::native's kernels
// (the batch split over ATen's intra-op thread count), as an autograd function: the result and gradients of
// torch::conv2d (to float rounding), computed faster than oneDNN's kernels for these small maps. Anything else
// (CUDA, another dtype or kernel size, more than 16 channels) goes through torch::conv2d.
#pragma once

#include <torch/torch.h>

namespace lenet5::model {

// torch::conv2d(x, weight, bias, /*stride=*/1, padding) for x [N,C,H,W] and weight [O,C,5,5]; the result is
// channels-last.
torch::Tensor conv5x5(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                      int64_t padding = 0);

// Whether conv5x5 runs its own kernels for these tensors rather than torch::conv2d.
bool conv5x5_has_fast_path(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace lenet5::model
