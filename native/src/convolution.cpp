#include "lenet5/native/convolution.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "convolution_kernels.h"

namespace lenet5::native {
namespace {

constexpr int64_t kSide = 5;  // the kernels' side

int64_t at(const Conv5x5Shape& s, int64_t n, int64_t y, int64_t x) { return ((n * s.height + y) * s.width + x); }

void check(const Conv5x5Shape& s) {
  if (s.batch < 0 || s.height < kSide || s.width < kSide || s.in_channels < 1 || s.in_channels > 16 ||
      s.out_channels < 1 || s.out_channels > 16) {
    throw std::invalid_argument("conv5x5: unsupported shape (input " + std::to_string(s.height) + "x" +
                                std::to_string(s.width) + ", " + std::to_string(s.in_channels) + " -> " +
                                std::to_string(s.out_channels) + " channels)");
  }
}

detail::ConvDims dims(const Conv5x5Shape& s, int64_t zero_rows = 0) {
  return {s.batch, s.height, s.width, s.in_channels, s.out_channels, zero_rows};
}

void forward_scalar(const Conv5x5Shape& s, const float* in, const float* weight, const float* bias, float* out) {
  const int64_t I = s.in_channels, O = s.out_channels, OH = s.out_height(), OW = s.out_width();
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t y = 0; y < OH; ++y) {
      for (int64_t x = 0; x < OW; ++x) {
        for (int64_t o = 0; o < O; ++o) {
          float sum = bias != nullptr ? bias[o] : 0.0f;
          for (int64_t ky = 0; ky < kSide; ++ky) {
            for (int64_t kx = 0; kx < kSide; ++kx) {
              const float* pixel = in + at(s, n, y + ky, x + kx) * I;
              const float* w = weight + ((o * kSide + ky) * kSide + kx) * I;
              for (int64_t c = 0; c < I; ++c) sum += pixel[c] * w[c];
            }
          }
          out[((n * OH + y) * OW + x) * O + o] = sum;
        }
      }
    }
  }
}

void weight_gradient_scalar(const Conv5x5Shape& s, const float* in, const float* grad_out, float* grad_weight,
                            float* grad_bias) {
  const int64_t I = s.in_channels, O = s.out_channels, OH = s.out_height(), OW = s.out_width();
  std::fill(grad_weight, grad_weight + O * kSide * kSide * I, 0.0f);
  std::fill(grad_bias, grad_bias + O, 0.0f);
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t y = 0; y < OH; ++y) {
      for (int64_t x = 0; x < OW; ++x) {
        for (int64_t o = 0; o < O; ++o) {
          const float g = grad_out[((n * OH + y) * OW + x) * O + o];
          grad_bias[o] += g;
          for (int64_t ky = 0; ky < kSide; ++ky) {
            for (int64_t kx = 0; kx < kSide; ++kx) {
              const float* pixel = in + at(s, n, y + ky, x + kx) * I;
              float* w = grad_weight + ((o * kSide + ky) * kSide + kx) * I;
              for (int64_t c = 0; c < I; ++c) w[c] += g * pixel[c];
            }
          }
        }
      }
    }
  }
}

void forward_with(const Conv5x5Shape& shape, int64_t zero_rows, const float* in, const float* weight, const float* bias,
                  float* out, Isa isa) {
  if (isa == Isa::kAvx2 && isa_supported(Isa::kAvx2)) {
    return detail::conv5x5_forward_avx2(dims(shape, zero_rows), in, weight, bias, out);
  }
  forward_scalar(shape, in, weight, bias, out);
}

}  // namespace

void conv5x5_forward(const Conv5x5Shape& shape, const float* in, const float* weight, const float* bias, float* out,
                     Isa isa) {
  check(shape);
  forward_with(shape, 0, in, weight, bias, out, isa);
}

void conv5x5_input_gradient(const Conv5x5Shape& shape, const float* grad_out, const float* weight, float* grad_in,
                            Isa isa) {
  check(shape);
  // The full convolution of grad_out (4 zeros around it) with every kernel turned by 180 degrees and the
  // channels swapped: a forward pass from O channels to I, whose kernels skip the rows of zeros.
  const int64_t I = shape.in_channels, O = shape.out_channels, OH = shape.out_height(), OW = shape.out_width();
  const Conv5x5Shape full{shape.batch, OH + 2 * (kSide - 1), OW + 2 * (kSide - 1), O, I};
  std::vector<float> turned(static_cast<size_t>(I * kSide * kSide * O));
  for (int64_t c = 0; c < I; ++c) {
    for (int64_t ky = 0; ky < kSide; ++ky) {
      for (int64_t kx = 0; kx < kSide; ++kx) {
        for (int64_t o = 0; o < O; ++o) {
          turned[((c * kSide + ky) * kSide + kx) * O + o] =
              weight[((o * kSide + kSide - 1 - ky) * kSide + kSide - 1 - kx) * I + c];
        }
      }
    }
  }
  std::vector<float> padded(static_cast<size_t>(full.batch * full.height * full.width * O), 0.0f);
  for (int64_t n = 0; n < shape.batch; ++n) {
    for (int64_t y = 0; y < OH; ++y) {
      const float* row = grad_out + (n * OH + y) * OW * O;
      std::copy(row, row + OW * O, padded.begin() + at(full, n, y + kSide - 1, kSide - 1) * O);
    }
  }
  forward_with(full, kSide - 1, padded.data(), turned.data(), nullptr, grad_in, isa);
}

void conv5x5_weight_gradient(const Conv5x5Shape& shape, const float* in, const float* grad_out, float* grad_weight,
                             float* grad_bias, Isa isa) {
  check(shape);
  if (isa == Isa::kAvx2 && isa_supported(Isa::kAvx2)) {
    return detail::conv5x5_weight_gradient_avx2(dims(shape), in, grad_out, grad_weight, grad_bias);
  }
  weight_gradient_scalar(shape, in, grad_out, grad_weight, grad_bias);
}

}  // namespace lenet5::native
