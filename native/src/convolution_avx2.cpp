// The AVX2/FMA kernels of lenet5/native/convolution.h (this file is compiled with -mavx2 -mfma; convolution.cpp
// calls it only on CPUs with both, and nothing here may use an inline function shared with other files, see
// kernels.h). Both kernels keep their sums in registers (tests/check_register_blocking.py checks the machine
// code): the forward pass P output pixels x V vectors of output channels, the weights' gradient G (column,
// channel) pairs of one kernel row x V vectors of output channels, over every position of one image at a time.
#include "convolution_kernels.h"

#if defined(LENET5_NATIVE_X86)
#include <immintrin.h>

#include "unrolled.h"

namespace lenet5::native::detail {
namespace {

constexpr int kSide = 5, kMaxChannels = 16;

// The lanes of output-channel vector v that hold channels below `channels`.
__m256i lanes_below(int64_t channels, int v) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(channels - 8 * v)), lane);
}

// P output pixels of one row from `in` (the input at their first pixel's window corner): weights packed
// [25 taps][I][8V], `bias` V vectors. C is the number of input channels where it is known when compiling (0:
// `channels` at run time): addresses then are a register plus a constant.
template <int V, int P, int C>
__attribute__((noinline)) void conv_forward_tile(const float* in, int64_t width, int64_t channels, const float* packed,
                                                 const __m256 (&bias)[2], const __m256i (&tail)[2],
                                                 int64_t out_channels, int ky_begin, int ky_end, float* out) {
  if constexpr (C > 0) channels = C;
  __m256 sum[P][V];
  unrolled<P>([&](int p) { unrolled<V>([&](int v) { sum[p][v] = bias[v]; }); });
#pragma GCC unroll 1  // unrolled, GCC schedules loads of later taps early and runs out of registers
  for (int ky = ky_begin; ky < ky_end; ++ky) {
#pragma GCC unroll 1
    for (int kx = 0; kx < kSide; ++kx) {
      const float* pixel = in + (ky * width + kx) * channels;
      const float* w = packed + (ky * kSide + kx) * channels * 8 * V;
      for (int64_t c = 0; c < channels; ++c, w += 8 * V) {
        __m256 wv[V];
        unrolled<V>([&](int v) { wv[v] = _mm256_load_ps(w + 8 * v); });
        unrolled<P>([&](int p) {
          const __m256 a = _mm256_broadcast_ss(pixel + p * channels + c);
          unrolled<V>([&](int v) { sum[p][v] = _mm256_fmadd_ps(a, wv[v], sum[p][v]); });
        });
      }
    }
  }
  // A vector that holds fewer than 8 channels still stores 8 floats (the lanes past the channels are zeros, as
  // the packed weights and bias are there) into the next pixels' first channels, which their own stores then
  // overwrite; only the stores that would reach past the tile go through a mask (microcoded, ~10x slower).
  unrolled<P>([&](int p) {
    unrolled<V>([&](int v) {
      float* to = out + p * out_channels + 8 * v;
      if (p * out_channels + 8 * (v + 1) <= P * out_channels) {
        _mm256_storeu_ps(to, sum[p][v]);
      } else {
        _mm256_maskstore_ps(to, tail[v], sum[p][v]);
      }
    });
  });
}

// The last `left` (< R) pixels of a row as one tile.
template <int V, int R, int C>
void conv_forward_rest(int left, const float* in, int64_t width, int64_t channels, const float* packed,
                       const __m256 (&bias)[2], const __m256i (&tail)[2], int64_t out_channels, int ky_begin,
                       int ky_end, float* out) {
  if constexpr (R > 0) {
    if (left == R) {
      return conv_forward_tile<V, R, C>(in, width, channels, packed, bias, tail, out_channels, ky_begin, ky_end, out);
    }
    conv_forward_rest<V, R - 1, C>(left, in, width, channels, packed, bias, tail, out_channels, ky_begin, ky_end, out);
  }
}

// Rows in tiles of P pixels, the rest of a row as one smaller tile; kernel rows that fall on zero rows of the
// input are skipped.
template <int V, int P, int C>
void conv_forward_all(const ConvDims& d, const float* in, const float* packed, const __m256 (&bias)[2],
                      const __m256i (&tail)[2], float* out) {
  const int64_t out_height = d.height - 4, out_width = d.width - 4;
  for (int64_t n = 0; n < d.batch; ++n) {
    for (int64_t y = 0; y < out_height; ++y) {
      const float* row = in + (n * d.height + y) * d.width * d.in_channels;
      float* out_row = out + (n * out_height + y) * out_width * d.out_channels;
      const int ky_begin = static_cast<int>(d.zero_rows > y ? d.zero_rows - y : 0);
      const int ky_end = static_cast<int>(d.height - d.zero_rows - y < kSide ? d.height - d.zero_rows - y : kSide);
      int64_t x = 0;
      for (; x + P <= out_width; x += P) {
        conv_forward_tile<V, P, C>(row + x * d.in_channels, d.width, d.in_channels, packed, bias, tail, d.out_channels,
                                   ky_begin, ky_end, out_row + x * d.out_channels);
      }
      conv_forward_rest<V, P - 1, C>(static_cast<int>(out_width - x), row + x * d.in_channels, d.width, d.in_channels,
                                     packed, bias, tail, d.out_channels, ky_begin, ky_end,
                                     out_row + x * d.out_channels);
    }
  }
}

// G (column, channel) pairs of kernel row `ky` x V vectors of output channels, summed over every output
// position of one image and added to `sums` ([25 taps x I][8V]). A pair's input lies `pair` floats past the row
// ky of its position's window (pairs count columns, then channels), so G consecutive pairs are G consecutive
// floats. U positions at a time: with fewer than 10 sums, one position's FMAs would wait on the last one's.
// A vector of fewer than 8 output channels is loaded whole (the lanes past them, the next position's channels,
// go to sums that are never read) except in the batch's last image (kMasked), whose last position ends the buffer.
template <int V, int G, int U, bool kMasked>
__attribute__((noinline)) void conv_weight_gradient_group(const ConvDims& d, const float* in, const float* grad_out,
                                                          int ky, int64_t first_pair, const __m256i (&tail)[2],
                                                          float* sums) {
  const auto load = [](const float* from, __m256i mask) {
    return kMasked ? _mm256_maskload_ps(from, mask) : _mm256_loadu_ps(from);
  };
  __m256 sum[U][G][V];
  unrolled<U>(
      [&](int u) { unrolled<G>([&](int k) { unrolled<V>([&](int v) { sum[u][k][v] = _mm256_setzero_ps(); }); }); });
  const int64_t out_height = d.height - 4, out_width = d.width - 4, stride = d.in_channels;
  for (int64_t y = 0; y < out_height; ++y) {
    const float* row = in + ((y + ky) * d.width) * stride + first_pair;
    const float* g = grad_out + y * out_width * d.out_channels;
    int64_t x = 0;
    for (; x + U <= out_width; x += U, g += U * d.out_channels) {
      unrolled<U>([&](int u) {
        __m256 gv[V];
        unrolled<V>([&](int v) { gv[v] = load(g + u * d.out_channels + 8 * v, tail[v]); });
        const float* corner = row + (x + u) * stride;
        unrolled<G>([&](int k) {
          const __m256 a = _mm256_broadcast_ss(corner + k);
          unrolled<V>([&](int v) { sum[u][k][v] = _mm256_fmadd_ps(a, gv[v], sum[u][k][v]); });
        });
      });
    }
    for (; x < out_width; ++x, g += d.out_channels) {
      __m256 gv[V];
      unrolled<V>([&](int v) { gv[v] = load(g + 8 * v, tail[v]); });
      const float* corner = row + x * stride;
      unrolled<G>([&](int k) {
        const __m256 a = _mm256_broadcast_ss(corner + k);
        unrolled<V>([&](int v) { sum[0][k][v] = _mm256_fmadd_ps(a, gv[v], sum[0][k][v]); });
      });
    }
  }
  float* out = sums + (ky * kSide * d.in_channels + first_pair) * 8 * V;
  unrolled<G>([&](int k) {
    unrolled<V>([&](int v) {
      __m256 total = sum[0][k][v];
      unrolled<U - 1>([&](int u) { total = _mm256_add_ps(total, sum[u + 1][k][v]); });
      float* s = out + (k * V + v) * 8;
      _mm256_store_ps(s, _mm256_add_ps(_mm256_load_ps(s), total));
    });
  });
}

template <int V, int G, int U>
void conv_weight_gradient_all(const ConvDims& d, const float* in, const float* grad_out, const __m256i (&tail)[2],
                              float* sums) {
  const int64_t pairs = kSide * d.in_channels, image = d.height * d.width * d.in_channels;
  const int64_t grad_image = (d.height - 4) * (d.width - 4) * d.out_channels;
  for (int64_t n = 0; n < d.batch; ++n) {
    for (int ky = 0; ky < kSide; ++ky) {
      for (int64_t pair = 0; pair < pairs; pair += G) {
        if (n + 1 == d.batch && d.out_channels % 8 != 0) {
          conv_weight_gradient_group<V, G, U, true>(d, in + n * image, grad_out + n * grad_image, ky, pair, tail, sums);
        } else {
          conv_weight_gradient_group<V, G, U, false>(d, in + n * image, grad_out + n * grad_image, ky, pair, tail,
                                                     sums);
        }
      }
    }
  }
}

int group_size(int64_t pairs, int most) {
  for (int g : {12, 10, 6, 5, 4, 3, 2}) {
    if (g <= most && pairs % g == 0) return g;
  }
  return 1;
}

// Tiles of up to 12 pixels x 1 vector or 5 pixels x 2 vectors: with the weights' vectors and a broadcast
// input, the most of the 16 registers that GCC keeps the sums in (at 14 and 6 it spilled some). One vector:
// 7-pixel tiles where they fill the row and 12 would leave a short tile (C3's input gradient, 14 wide), since a
// tile of fewer than 10 sums waits on its FMAs' latency.
template <int V, int C>
void forward_for(const ConvDims& d, const float* in, const float* packed, const __m256 (&bias)[2],
                 const __m256i (&tail)[2], float* out) {
  const int64_t out_width = d.width - 4;
  if constexpr (V == 1) {
    if (out_width % 7 == 0 && out_width % 12 != 0 && out_width < 28) {
      return conv_forward_all<1, 7, C>(d, in, packed, bias, tail, out);
    }
  }
  conv_forward_all<V, V == 1 ? 12 : 5, C>(d, in, packed, bias, tail, out);
}

template <int V>
void weight_gradient_for(const ConvDims& d, const float* in, const float* grad_out, const __m256i (&tail)[2],
                         float* sums) {
  // 10-12 sums, the rest of the 16 registers for the loads.
  switch (group_size(kSide * d.in_channels, V == 1 ? 12 : 5)) {
    case 12: return conv_weight_gradient_all<V, 12, 1>(d, in, grad_out, tail, sums);
    case 10: return conv_weight_gradient_all<V, 10, 1>(d, in, grad_out, tail, sums);
    case 6: return conv_weight_gradient_all<V, 6, 1>(d, in, grad_out, tail, sums);
    case 5: return conv_weight_gradient_all<V, 5, 3 - V>(d, in, grad_out, tail, sums);
    case 4: return conv_weight_gradient_all<V, 4, 3 - V>(d, in, grad_out, tail, sums);
    case 3: return conv_weight_gradient_all<V, 3, 3 - V>(d, in, grad_out, tail, sums);
    case 2: return conv_weight_gradient_all<V, 2, 2>(d, in, grad_out, tail, sums);
    default: return conv_weight_gradient_all<V, 1, 2>(d, in, grad_out, tail, sums);
  }
}

}  // namespace

void conv5x5_forward_avx2(const ConvDims& d, const float* in, const float* weight, const float* bias, float* out) {
  const int vectors = d.out_channels > 8 ? 2 : 1, lanes = 8 * vectors;
  alignas(32) float packed[kSide * kSide * kMaxChannels * kMaxChannels] = {};  // [25 taps][I][lanes]
  for (int64_t o = 0; o < d.out_channels; ++o) {
    for (int64_t k = 0; k < kSide * kSide * d.in_channels; ++k)
      packed[k * lanes + o] = weight[o * kSide * kSide * d.in_channels + k];
  }
  alignas(32) float bias_lanes[2 * 8] = {};
  for (int64_t o = 0; o < d.out_channels; ++o) bias_lanes[o] = bias != nullptr ? bias[o] : 0.0f;
  const __m256 bias_vectors[2] = {_mm256_load_ps(bias_lanes), _mm256_load_ps(bias_lanes + 8)};
  const __m256i tail[2] = {lanes_below(d.out_channels, 0), lanes_below(d.out_channels, 1)};
  // The input channels of LeNet-5's passes known when compiling (C1 1, C3 6, C3's input gradient 16).
  if (vectors == 1 && d.in_channels == 1) return forward_for<1, 1>(d, in, packed, bias_vectors, tail, out);
  if (vectors == 1 && d.in_channels == 16) return forward_for<1, 16>(d, in, packed, bias_vectors, tail, out);
  if (vectors == 2 && d.in_channels == 6) return forward_for<2, 6>(d, in, packed, bias_vectors, tail, out);
  if (vectors == 1) return forward_for<1, 0>(d, in, packed, bias_vectors, tail, out);
  forward_for<2, 0>(d, in, packed, bias_vectors, tail, out);
}

void conv5x5_weight_gradient_avx2(const ConvDims& d, const float* in, const float* grad_out, float* grad_weight,
                                  float* grad_bias) {
  const int vectors = d.out_channels > 8 ? 2 : 1, lanes = 8 * vectors;
  const int64_t taps = kSide * kSide * d.in_channels;
  alignas(32) float sums[kSide * kSide * kMaxChannels * kMaxChannels] = {};  // [25 taps x I][lanes]
  const __m256i tail[2] = {lanes_below(d.out_channels, 0), lanes_below(d.out_channels, 1)};
  if (vectors == 1) {
    weight_gradient_for<1>(d, in, grad_out, tail, sums);
  } else {
    weight_gradient_for<2>(d, in, grad_out, tail, sums);
  }
  for (int64_t o = 0; o < d.out_channels; ++o) {
    for (int64_t k = 0; k < taps; ++k) grad_weight[o * taps + k] = sums[k * lanes + o];
  }
  // The bias's gradient: the output gradients summed per channel, in 4 interleaved sums per vector.
  __m256 bias[4][2] = {};
  const int64_t positions = d.batch * (d.height - 4) * (d.width - 4);
  for (int64_t i = 0; i < positions; ++i) {
    for (int v = 0; v < vectors; ++v) {
      const float* g = grad_out + i * d.out_channels + 8 * v;
      const bool inside = i * d.out_channels + 8 * (v + 1) <= positions * d.out_channels;  // 8 floats in the buffer
      const __m256 value = inside ? _mm256_loadu_ps(g) : _mm256_maskload_ps(g, tail[v]);
      bias[i % 4][v] = _mm256_add_ps(bias[i % 4][v], value);
    }
  }
  alignas(32) float bias_lanes[16];
  for (int v = 0; v < 2; ++v) {
    _mm256_store_ps(bias_lanes + 8 * v,
                    _mm256_add_ps(_mm256_add_ps(bias[0][v], bias[1][v]), _mm256_add_ps(bias[2][v], bias[3][v])));
  }
  for (int64_t o = 0; o < d.out_channels; ++o) grad_bias[o] = bias_lanes[o];
}

}  // namespace lenet5::native::detail

#else  // not x86: convolution.cpp never selects AVX2

namespace lenet5::native::detail {
void conv5x5_forward_avx2(const ConvDims&, const float*, const float*, const float*, float*) {}
void conv5x5_weight_gradient_avx2(const ConvDims&, const float*, const float*, float*, float*) {}
}  // namespace lenet5::native::detail

#endif
