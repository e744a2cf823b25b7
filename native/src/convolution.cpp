#include "lenet5/native/convolution.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "convolution_kernels.h"
#include "workers.h"

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

// Runs body(first_image, images) over the batch in `threads` fixed shares, the calling thread among those that
// take them: which thread takes which share never changes a result.
template <class Body>
int64_t over_shares(int64_t batch, int threads, const Body& body) {
  constexpr int64_t kImagesPerShare = 8;
  const int64_t shares = std::max<int64_t>(1, std::min<int64_t>(threads, batch / kImagesPerShare));
  std::atomic<int64_t> next{0};
  const auto take_shares = [&] {
    for (int64_t share; (share = next.fetch_add(1)) < shares;) {
      const int64_t begin = batch * share / shares, end = batch * (share + 1) / shares;
      body(share, begin, end - begin);
    }
  };
  if (shares == 1) {
    take_shares();
  } else {
    detail::Workers::shared().run(static_cast<int>(shares), take_shares);
  }
  return shares;
}

Conv5x5Shape images(Conv5x5Shape shape, int64_t count) {
  shape.batch = count;
  return shape;
}

void forward_one_thread(const Conv5x5Shape& shape, int64_t zero_rows, const float* in, const float* weight,
                        const float* bias, float* out, Isa isa) {
  if (isa == Isa::kAvx2 && isa_supported(Isa::kAvx2)) {
    return detail::conv5x5_forward_avx2(dims(shape, zero_rows), in, weight, bias, out);
  }
  forward_scalar(shape, in, weight, bias, out);
}

}  // namespace

void conv5x5_forward(const Conv5x5Shape& shape, const float* in, const float* weight, const float* bias, float* out,
                     int threads, Isa isa) {
  check(shape);
  const int64_t image_in = shape.height * shape.width * shape.in_channels;
  const int64_t image_out = shape.out_height() * shape.out_width() * shape.out_channels;
  over_shares(shape.batch, threads, [&](int64_t, int64_t first, int64_t count) {
    forward_one_thread(images(shape, count), 0, in + first * image_in, weight, bias, out + first * image_out, isa);
  });
}

void conv5x5_input_gradient(const Conv5x5Shape& shape, const float* grad_out, const float* weight, float* grad_in,
                            int threads, Isa isa) {
  check(shape);
  // The full convolution of grad_out (4 zeros around it) with every kernel turned by 180 degrees and the
  // channels swapped: a forward pass from O channels to I.
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
  const int64_t image_in = shape.height * shape.width * I, image_out = OH * OW * O;
  over_shares(shape.batch, threads, [&](int64_t, int64_t first, int64_t count) {
    std::vector<float> padded(static_cast<size_t>(count * full.height * full.width * O), 0.0f);
    for (int64_t n = 0; n < count; ++n) {
      for (int64_t y = 0; y < OH; ++y) {
        const float* row = grad_out + (first + n) * image_out + y * OW * O;
        std::copy(row, row + OW * O, padded.begin() + at(full, n, y + kSide - 1, kSide - 1) * O);
      }
    }
    forward_one_thread(images(full, count), kSide - 1, padded.data(), turned.data(), nullptr,
                       grad_in + first * image_in, isa);
  });
}

void conv5x5_weight_gradient(const Conv5x5Shape& shape, const float* in, const float* grad_out, float* grad_weight,
                             float* grad_bias, int threads, Isa isa) {
  check(shape);
  const int64_t weights = shape.out_channels * kSide * kSide * shape.in_channels, O = shape.out_channels;
  const int64_t image_in = shape.height * shape.width * shape.in_channels;
  const int64_t image_out = shape.out_height() * shape.out_width() * O;
  std::vector<float> partial(static_cast<size_t>(std::max(threads, 1) * (weights + O)));  // a share's sums each
  const int64_t shares = over_shares(shape.batch, threads, [&](int64_t share, int64_t first, int64_t count) {
    float* sums = partial.data() + share * (weights + O);
    const float *share_in = in + first * image_in, *share_grad = grad_out + first * image_out;
    if (isa == Isa::kAvx2 && isa_supported(Isa::kAvx2)) {
      detail::conv5x5_weight_gradient_avx2(dims(images(shape, count)), share_in, share_grad, sums, sums + weights);
    } else {
      weight_gradient_scalar(images(shape, count), share_in, share_grad, sums, sums + weights);
    }
  });
  std::copy(partial.begin(), partial.begin() + weights, grad_weight);
  std::copy(partial.begin() + weights, partial.begin() + weights + O, grad_bias);
  for (int64_t share = 1; share < shares; ++share) {  // in share order: the same sums whatever the threads did
    const float* sums = partial.data() + share * (weights + O);
    for (int64_t i = 0; i < weights; ++i) grad_weight[i] += sums[i];
    for (int64_t o = 0; o < O; ++o) grad_bias[o] += sums[weights + o];
  }
}

}  // namespace lenet5::native
