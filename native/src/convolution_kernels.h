// What convolution.cpp shares with convolution_avx2.cpp (compiled with -mavx2 -mfma): plain data only, as in
// kernels.h. Shapes as in lenet5/native/convolution.h; out_channels at most 16.
#pragma once

#include <cstdint>

namespace lenet5::native::detail {

struct ConvDims {
  int64_t batch, height, width, in_channels, out_channels;
  int64_t zero_rows = 0;  // rows of zeros at the top and the bottom of every input image, which may be skipped
};

void conv5x5_forward_avx2(const ConvDims& d, const float* in, const float* weight, const float* bias, float* out);
void conv5x5_weight_gradient_avx2(const ConvDims& d, const float* in, const float* grad_out, float* grad_weight,
                                  float* grad_bias);

}  // namespace lenet5::native::detail
