// The AVX2/FMA kernels (this file is compiled with -mavx2 -mfma; plan.cpp calls it only on CPUs with both).
// Register blocking: C1 keeps 2 row vectors x 6 maps of sums in registers, the dense layers up to 4 images x 24
// units (a lone image: all of a layer's units in one pass over its weights); C3 is Winograd's F(2x2, 5x5)
// (kernels.h), 6 maps of S2 in each vector's lanes, one row of S4's windows at a time so that its transforms
// stay in L1. Pooling and activations run on the sums before they leave the cache.
// Nothing here may use an inline function shared with other files (see kernels.h). The register-blocked
// kernels are never inlined: tests/check_register_blocking.py reads their machine code by name.
#include "kernels.h"

#if defined(LENET5_NATIVE_X86)
#include <immintrin.h>

#include "unrolled.h"

namespace lenet5::native::detail {
namespace {

// exp(x) for x <= 88 (Cephes' single-precision polynomial, relative error ~1e-7).
__m256 exp256(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
  __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
}

// amplitude * tanh(slope * a), as sign(z) (1 - 2 / (exp(2|z|) + 1)).
__m256 squash(const Model& m, __m256 a) {
  const __m256 z = _mm256_mul_ps(a, _mm256_set1_ps(m.squash_slope));
  const __m256 sign = _mm256_and_ps(z, _mm256_set1_ps(-0.0f));
  const __m256 e =
      exp256(_mm256_add_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), z), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z)));
  const __m256 t =
      _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
  return _mm256_mul_ps(_mm256_or_ps(t, sign), _mm256_set1_ps(m.squash_amplitude));
}

__m256 relu(__m256 a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }

void fill_field(const Model& m, const float* image, float* field) {
  const __m256 border = _mm256_set1_ps(m.border_value);
  for (int i = 0; i < kFieldFloats; i += 8) _mm256_storeu_ps(field + i, border);
  const __m256 scale = _mm256_set1_ps(m.input_scale), shift = _mm256_set1_ps(m.input_shift);
  for (int y = 0; y < kImage; ++y) {
    const float* row = image + y * kImage;
    float* out = field + (y + 2) * kField + 2;
    for (int x = 0; x < 24; x += 8) _mm256_storeu_ps(out + x, _mm256_fmadd_ps(_mm256_loadu_ps(row + x), scale, shift));
    _mm_storeu_ps(out + 24,
                  _mm_fmadd_ps(_mm_loadu_ps(row + 24), _mm256_castps256_ps128(scale), _mm256_castps256_ps128(shift)));
  }
}

// Adjacent pairs of v's 8 lanes combined: max (modern) or sum (classic), in order.
__m128 pairs_of(__m256 v, bool sum) {
  const __m256 even = _mm256_shuffle_ps(v, v, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 odd = _mm256_shuffle_ps(v, v, _MM_SHUFFLE(3, 1, 3, 1));
  const __m256 both = sum ? _mm256_add_ps(even, odd) : _mm256_max_ps(even, odd);
  return _mm_shuffle_ps(_mm256_castps256_ps128(both), _mm256_extractf128_ps(both, 1), _MM_SHUFFLE(1, 0, 1, 0));
}

// The classic S2 of one map's 2x8 C1 sums plus its bias: out of line, so that the tile's sums need not leave
// their registers for the calls in squash on the modern path.
__attribute__((noinline)) __m128 s2_classic(const Model& m, int c, __m256 top, __m256 bottom) {
  const __m256 sum = _mm256_add_ps(squash(m, top), squash(m, bottom));
  const __m256 pooled = _mm256_zextps128_ps256(pairs_of(sum, true));
  return _mm256_castps256_ps128(
      squash(m, _mm256_fmadd_ps(pooled, _mm256_set1_ps(m.s2_weight[c]), _mm256_set1_ps(m.s2_bias[c]))));
}

// One map's 2x8 C1 sums (rows `top` and `bottom`, no bias yet) pooled by S2 into 4 outputs, activation included.
__attribute__((always_inline)) inline __m128 s2_of(const Model& m, int c, __m256 top, __m256 bottom) {
  const __m256 bias = _mm256_set1_ps(m.c1_bias[c]);
  if (m.classic) return s2_classic(m, c, _mm256_add_ps(top, bias), _mm256_add_ps(bottom, bias));
  return _mm_max_ps(_mm_add_ps(pairs_of(_mm256_max_ps(top, bottom), false), _mm256_castps256_ps128(bias)),
                    _mm_setzero_ps());
}

// One C1 tile of 2 rows x 8 values for all 6 maps (12 named sums in registers: arrays of them end up on the
// stack), pooled by S2 into 4 pixels: load(offset) gives the tile's 8 inputs at a field offset from its top-left
// tap; store(i, pixel) takes pooled pixel i (0-3) with its 6 maps in kS2Lanes lanes.
template <class Load, class Store>
__attribute__((always_inline)) inline void c1_s2_tile(const Model& m, const Load& load, const Store& store) {
  __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0,
         a5 = a0, b5 = a0;
  for (int ky = 0; ky < 5; ++ky) {
#pragma GCC unroll 1  // unrolled, GCC kept 2 of the 12 sums on the stack: a store and a load in their chains
    for (int kx = 0; kx < 5; ++kx) {
      const __m256 top = load(ky * kField + kx), bottom = load((ky + 1) * kField + kx);
      const float* w = m.c1_weight + (ky * 5 + kx) * kC1Lanes;
      __m256 wc = _mm256_broadcast_ss(w);
      a0 = _mm256_fmadd_ps(top, wc, a0), b0 = _mm256_fmadd_ps(bottom, wc, b0), wc = _mm256_broadcast_ss(w + 1);
      a1 = _mm256_fmadd_ps(top, wc, a1), b1 = _mm256_fmadd_ps(bottom, wc, b1), wc = _mm256_broadcast_ss(w + 2);
      a2 = _mm256_fmadd_ps(top, wc, a2), b2 = _mm256_fmadd_ps(bottom, wc, b2), wc = _mm256_broadcast_ss(w + 3);
      a3 = _mm256_fmadd_ps(top, wc, a3), b3 = _mm256_fmadd_ps(bottom, wc, b3), wc = _mm256_broadcast_ss(w + 4);
      a4 = _mm256_fmadd_ps(top, wc, a4), b4 = _mm256_fmadd_ps(bottom, wc, b4), wc = _mm256_broadcast_ss(w + 5);
      a5 = _mm256_fmadd_ps(top, wc, a5), b5 = _mm256_fmadd_ps(bottom, wc, b5);
    }
  }
  __m128 p0 = s2_of(m, 0, a0, b0), p1 = s2_of(m, 1, a1, b1), p2 = s2_of(m, 2, a2, b2), p3 = s2_of(m, 3, a3, b3);
  __m128 p4 = s2_of(m, 4, a4, b4), p5 = s2_of(m, 5, a5, b5), zero = _mm_setzero_ps(), zero2 = zero;
  _MM_TRANSPOSE4_PS(p0, p1, p2, p3);  // now one S2 pixel each: maps 0-3, then 4-5 and zeros
  _MM_TRANSPOSE4_PS(p4, p5, zero, zero2);
  store(0, _mm256_insertf128_ps(_mm256_castps128_ps256(p0), p4, 1));
  store(1, _mm256_insertf128_ps(_mm256_castps128_ps256(p1), p5, 1));
  store(2, _mm256_insertf128_ps(_mm256_castps128_ps256(p2), zero, 1));
  store(3, _mm256_insertf128_ps(_mm256_castps128_ps256(p3), zero2, 1));
}

// C1 and S2 in one pass, [14][14][kS2Lanes]. Columns 0-23 of each pair of C1 rows in tiles of 8; the last 4 columns
// (24-27) of two pairs of rows share a tile (one pair in each 128-bit half), where a tile of 8 columns would
// compute 4 past the image.
__attribute__((noinline)) void c1_s2(const Model& m, const float* field, float* out) {
  constexpr int kEdge = 24, kPairStride = 2 * kField;  // the edge columns; from one pair of C1 rows to the next
  static_assert(kEdge + 4 == kC1Side && kS2Side % 2 == 0, "C1's rows end in one half-tile; S2's rows pair up");
  for (int y = 0; y < kS2Side; ++y) {
    for (int x = 0; x < kEdge; x += 8) {
      const float* corner = field + y * kPairStride + x;
      c1_s2_tile(
          m, [&](int offset) { return _mm256_loadu_ps(corner + offset); },
          [&](int i, __m256 pixel) { _mm256_store_ps(out + (y * kS2Side + x / 2 + i) * kS2Lanes, pixel); });
    }
  }
  for (int y = 0; y < kS2Side; y += 2) {  // S2 rows y and y + 1, columns 12-13
    const float* corner = field + y * kPairStride + kEdge;
    c1_s2_tile(
        m,
        [&](int offset) {  // two halves (_mm256_loadu2_m128 is missing from GCC before 10)
          const __m128 first = _mm_loadu_ps(corner + offset), second = _mm_loadu_ps(corner + offset + kPairStride);
          return _mm256_insertf128_ps(_mm256_castps128_ps256(first), second, 1);
        },
        [&](int i, __m256 pixel) {  // pixels 0 and 1 on S2 row y, 2 and 3 below them
          _mm256_store_ps(out + ((y + i / 2) * kS2Side + kEdge / 2 + i % 2) * kS2Lanes, pixel);
        });
  }
}

// Winograd's input transform (kernels.h): t = Bt d for 6 values.
__attribute__((always_inline)) inline void input_transform(const __m256 (&d)[6], __m256 (&t)[6]) {
  const __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5);
  const __m256 a = _mm256_fnmadd_ps(four, d[2], d[4]), b = _mm256_fnmadd_ps(four, d[1], d[3]);
  const __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_add_ps(_mm256_sub_ps(d[3], d[1]), _mm256_sub_ps(d[3], d[1]));
  t[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  t[1] = _mm256_add_ps(a, b), t[2] = _mm256_sub_ps(a, b);
  t[3] = _mm256_add_ps(c, e), t[4] = _mm256_sub_ps(c, e);
  t[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

// Winograd's output transform: (y0, y1) = At m for 6 values.
__attribute__((always_inline)) inline void output_transform(const __m256 (&m)[6], __m256& y0, __m256& y1) {
  const __m256 sum12 = _mm256_add_ps(m[1], m[2]), difference12 = _mm256_sub_ps(m[1], m[2]);
  const __m256 sum34 = _mm256_add_ps(m[3], m[4]), difference34 = _mm256_sub_ps(m[3], m[4]);
  y0 = _mm256_add_ps(_mm256_add_ps(m[0], sum12), sum34);
  y1 = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(2), difference34, difference12), m[5]);
}

// Bt d B of the 5 tiles of row `row` of S4's windows, [36 points][5 blocks][8 lanes]: Bt down every column of
// S2 first, then B along the rows that gives.
void c3_transform_tiles(const float* s2, int row, float* tiles) {
  alignas(32) float columns[kWinogradTile][kS2Side][kS2Lanes];
  for (int x = 0; x < kS2Side; ++x) {
    __m256 d[6], t[6];
    for (int i = 0; i < 6; ++i) d[i] = _mm256_load_ps(s2 + ((2 * row + i) * kS2Side + x) * kS2Lanes);
    input_transform(d, t);
    for (int r = 0; r < 6; ++r) _mm256_store_ps(columns[r][x], t[r]);
  }
  for (int r = 0; r < 6; ++r) {
    for (int block = 0; block < kC3Blocks; ++block) {
      __m256 d[6], t[6];
      for (int j = 0; j < 6; ++j) d[j] = _mm256_load_ps(columns[r][2 * block + j]);
      input_transform(d, t);
      for (int s = 0; s < 6; ++s) _mm256_store_ps(tiles + ((r * 6 + s) * kC3Blocks + block) * kS2Lanes, t[s]);
    }
  }
}

// The Winograd-domain products summed over S2's 6 maps, [36 points][5 blocks][16 maps]: one point's kernels
// (6 maps x 16) stay in registers across the row's blocks.
__attribute__((noinline)) void c3_products(const Model& m, const float* tiles, float* products) {
  for (int point = 0; point < kWinogradPoints; ++point) {
    const float* u = m.c3_winograd + point * kC1Maps * kC3Maps;
    __m256 low[kC1Maps], high[kC1Maps];
    for (int c = 0; c < kC1Maps; ++c)
      low[c] = _mm256_loadu_ps(u + c * kC3Maps), high[c] = _mm256_loadu_ps(u + c * kC3Maps + 8);
    for (int block = 0; block < kC3Blocks; ++block) {
      const float* v = tiles + (point * kC3Blocks + block) * kS2Lanes;
      __m256 value = _mm256_broadcast_ss(v);
      __m256 sum_low = _mm256_mul_ps(value, low[0]), sum_high = _mm256_mul_ps(value, high[0]);
      for (int c = 1; c < kC1Maps; ++c) {
        value = _mm256_broadcast_ss(v + c);
        sum_low = _mm256_fmadd_ps(value, low[c], sum_low), sum_high = _mm256_fmadd_ps(value, high[c], sum_high);
      }
      float* out = products + (point * kC3Blocks + block) * kC3Maps;
      _mm256_store_ps(out, sum_low), _mm256_store_ps(out + 8, sum_high);
    }
  }
}

// One S4 window of 8 maps from C3's 2x2 block (without C3's bias), activation included.
__m256 s4_window(const Model& m, const __m256 (&window)[4], int half) {
  const __m256 bias = _mm256_loadu_ps(m.c3_bias + half);
  if (!m.classic) {
    const __m256 largest = _mm256_max_ps(_mm256_max_ps(window[0], window[1]), _mm256_max_ps(window[2], window[3]));
    return relu(_mm256_add_ps(largest, bias));
  }
  __m256 sum = _mm256_setzero_ps();
  for (const __m256& a : window) sum = _mm256_add_ps(sum, squash(m, _mm256_add_ps(a, bias)));
  return squash(m, _mm256_fmadd_ps(sum, _mm256_loadu_ps(m.s4_weight + half), _mm256_loadu_ps(m.s4_bias + half)));
}

// At M A of each block of the row: C3's 2x2 outputs, pooled by S4 into its output [5][5][16], pixel-major.
void c3_blocks_s4(const Model& m, const float* products, int row, float* out) {
  for (int block = 0; block < kC3Blocks; ++block) {
    for (int half = 0; half < kC3Maps; half += 8) {
      __m256 top[6], bottom[6];  // At down each column s
      for (int s = 0; s < 6; ++s) {
        __m256 column[6];
        for (int r = 0; r < 6; ++r)
          column[r] = _mm256_load_ps(products + ((r * 6 + s) * kC3Blocks + block) * kC3Maps + half);
        output_transform(column, top[s], bottom[s]);
      }
      __m256 window[4];
      output_transform(top, window[0], window[1]);
      output_transform(bottom, window[2], window[3]);
      _mm256_storeu_ps(out + (row * kS4Side + block) * kC3Maps + half, s4_window(m, window, half));
    }
  }
}

// One tile of a dense layer: rows R x V vectors of units starting at unit j.
template <int R, int V>
__attribute__((noinline)) void dense_tile(const float* in, int in_stride, int inputs, const float* w, int stride,
                                          const float* bias, int j, float* out) {
  __m256 sum[R][V];
  unrolled<V>([&](int v) {
    const __m256 b = _mm256_loadu_ps(bias + j + 8 * v);
    unrolled<R>([&](int r) { sum[r][v] = b; });
  });
  for (int k = 0; k < inputs; ++k) {
    __m256 wk[V];
    unrolled<V>([&](int v) { wk[v] = _mm256_loadu_ps(w + k * stride + j + 8 * v); });
    unrolled<R>([&](int r) {
      const __m256 a = _mm256_broadcast_ss(in + r * in_stride + k);
      unrolled<V>([&](int v) { sum[r][v] = _mm256_fmadd_ps(a, wk[v], sum[r][v]); });
    });
  }
  unrolled<R>([&](int r) { unrolled<V>([&](int v) { _mm256_storeu_ps(out + r * stride + j + 8 * v, sum[r][v]); }); });
}

// The last `left` (< V) vectors of units from unit j, as one tile.
template <int R, int V>
void dense_rest(int left, const float* in, int in_stride, int inputs, const float* w, int stride, const float* bias,
                int j, float* out) {
  if constexpr (V > 0) {
    if (left == V) return dense_tile<R, V>(in, in_stride, inputs, w, stride, bias, j, out);
    dense_rest<R, V - 1>(left, in, in_stride, inputs, w, stride, bias, j, out);
  }
}

template <int R, int V>
void dense_rows(const float* in, int in_stride, int inputs, const float* w, int stride, const float* bias, float* out) {
  int j = 0;
  for (; j + 8 * V <= stride; j += 8 * V) dense_tile<R, V>(in, in_stride, inputs, w, stride, bias, j, out);
  dense_rest<R, V - 1>((stride - j) / 8, in, in_stride, inputs, w, stride, bias, j, out);
}

// One image through a dense layer of V vectors of units in one pass over the weights: a lone image reads every
// weight once, so the pass is a single stream from the cache that the prefetcher keeps ahead of.
template <int V>
__attribute__((noinline)) void dense_row(const float* in, int inputs, const float* w, const float* bias, float* out) {
  __m256 sum[V];
  unrolled<V>([&](int v) { sum[v] = _mm256_loadu_ps(bias + 8 * v); });
  for (int k = 0; k < inputs; ++k, w += 8 * V) {
    const __m256 a = _mm256_broadcast_ss(in + k);
    unrolled<V>([&](int v) { sum[v] = _mm256_fmadd_ps(a, _mm256_loadu_ps(w + 8 * v), sum[v]); });
  }
  unrolled<V>([&](int v) { _mm256_storeu_ps(out + 8 * v, sum[v]); });
}

// out[0..stride) = bias + in w for one image, `stride` one of the layers' widths.
void dense_one(const float* in, int inputs, const float* w, const float* bias, int stride, float* out) {
  switch (stride) {
    case kC5Units: return dense_row<kC5Units / 8>(in, inputs, w, bias, out);
    case kF6Padded: return dense_row<kF6Padded / 8>(in, inputs, w, bias, out);
    case kOutputPadded: return dense_row<kOutputPadded / 8>(in, inputs, w, bias, out);
    default: dense_rows<1, 8>(in, 0, inputs, w, stride, bias, out);
  }
}

// out[r][0..stride) = bias + in[r] w, then the activation: rows of 4 images x 24 units, lone rows in one pass.
void dense(const Model& m, const float* in, int rows, int in_stride, int inputs, const float* w, const float* bias,
           int stride, bool activate, float* out) {
  int r = 0;
  for (; r + 4 <= rows; r += 4)
    dense_rows<4, 3>(in + r * in_stride, in_stride, inputs, w, stride, bias, out + r * stride);
  for (; r < rows; ++r) dense_one(in + r * in_stride, inputs, w, bias, stride, out + r * stride);
  if (!activate) return;
  for (int i = 0; i < rows * stride; i += 8) {
    const __m256 v = _mm256_loadu_ps(out + i);
    _mm256_storeu_ps(out + i, m.classic ? squash(m, v) : relu(v));
  }
}

}  // namespace

void forward_block_avx2(const Model& m, const float* images, int n, float* scores, float* scratch) {
  float* features = scratch + kScratchFeatures;
  float *s2 = scratch + kScratchS2Pixels, *tiles = scratch + kScratchWinograd, *products = scratch + kScratchProducts;
  for (int i = 0; i < n; ++i) {
    fill_field(m, images + i * kImagePixels, scratch + kScratchField);
    c1_s2(m, scratch + kScratchField, s2);
    for (int row = 0; row < kS4Side; ++row) {
      c3_transform_tiles(s2, row, tiles);
      c3_products(m, tiles, products);
      c3_blocks_s4(m, products, row, features + i * kFeatures);
    }
  }
  float* c5 = scratch + kScratchC5;
  float* f6 = scratch + kScratchF6;
  dense(m, features, n, kFeatures, kFeatures, m.c5_weight, m.c5_bias, kC5Units, true, c5);
  dense(m, c5, n, kC5Units, kC5Units, m.f6_weight, m.f6_bias, kF6Padded, true, f6);
  if (m.classic) {  // minus the squared Euclidean distance to each digit's prototype
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < kClasses; ++j) {
        __m256 sum = _mm256_setzero_ps();
        for (int k = 0; k + 8 <= kF6Units; k += 8) {
          const __m256 d =
              _mm256_sub_ps(_mm256_loadu_ps(f6 + i * kF6Padded + k), _mm256_loadu_ps(m.prototypes + j * kF6Units + k));
          sum = _mm256_fmadd_ps(d, d, sum);
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, sum);
        float total = 0;
        for (float lane : lanes) total += lane;
        for (int k = kF6Units / 8 * 8; k < kF6Units; ++k) {
          const float d = f6[i * kF6Padded + k] - m.prototypes[j * kF6Units + k];
          total += d * d;
        }
        scores[i * kClasses + j] = -total;
      }
    }
    return;
  }
  float* output = scratch + kScratchOutput;
  dense(m, f6, n, kF6Padded, kF6Units, m.output_weight, m.output_bias, kOutputPadded, false, output);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < kClasses; ++j) scores[i * kClasses + j] = output[i * kOutputPadded + j];
  }
}

}  // namespace lenet5::native::detail

#else  // not x86: plan.cpp never selects AVX2

namespace lenet5::native::detail {
void forward_block_avx2(const Model&, const float*, int, float*, float*) {}
}  // namespace lenet5::native::detail

#endif
