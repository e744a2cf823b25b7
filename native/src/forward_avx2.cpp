// The AVX2/FMA kernels (this file is compiled with -mavx2 -mfma; plan.cpp calls it only on CPUs with both).
// Register blocking: C1 keeps 2 row vectors x 6 maps of sums in registers, C3 5 pixels x 16 maps, the dense
// layers up to 4 images x 24 units (a lone image: all of a layer's units in one pass over its weights); pooling
// and activations run on the sums before they leave the cache.
// Nothing here may use an inline function shared with other files (see kernels.h).
#include "kernels.h"

#if defined(LENET5_NATIVE_X86)
#include <immintrin.h>

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

// One map's 2x8 C1 sums (rows `top` and `bottom`, no bias yet) pooled by S2 into 4 outputs, activation included.
__m128 s2_of(const Model& m, int c, __m256 top, __m256 bottom) {
  const __m256 bias = _mm256_set1_ps(m.c1_bias[c]);
  if (!m.classic)
    return _mm_max_ps(_mm_add_ps(pairs_of(_mm256_max_ps(top, bottom), false), _mm256_castps256_ps128(bias)),
                      _mm_setzero_ps());
  const __m256 sum = _mm256_add_ps(squash(m, _mm256_add_ps(top, bias)), squash(m, _mm256_add_ps(bottom, bias)));
  const __m256 pooled = _mm256_zextps128_ps256(pairs_of(sum, true));
  return _mm256_castps256_ps128(
      squash(m, _mm256_fmadd_ps(pooled, _mm256_set1_ps(m.s2_weight[c]), _mm256_set1_ps(m.s2_bias[c]))));
}

// One C1 tile of 2 rows x 8 values for all 6 maps (12 named sums in registers: arrays of them end up on the
// stack), pooled by S2 into 4 values per map: load(offset) gives the tile's 8 inputs at a field offset from its
// top-left tap; store(map, pooled) takes the 4 outputs.
template <class Load, class Store>
__attribute__((always_inline)) inline void c1_s2_tile(const Model& m, const Load& load, const Store& store) {
  __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0,
         a5 = a0, b5 = a0;
  for (int ky = 0; ky < 5; ++ky) {
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
  store(0, s2_of(m, 0, a0, b0)), store(1, s2_of(m, 1, a1, b1)), store(2, s2_of(m, 2, a2, b2));
  store(3, s2_of(m, 3, a3, b3)), store(4, s2_of(m, 4, a4, b4)), store(5, s2_of(m, 5, a5, b5));
}

// C1 and S2 in one pass, [6][14][14]. Columns 0-23 of each pair of C1 rows in tiles of 8; the last 4 columns
// (24-27) of two pairs of rows share a tile (one pair in each 128-bit half), where a tile of 8 columns would
// compute 4 past the image.
void c1_s2(const Model& m, const float* field, float* out) {
  constexpr int kEdge = 24, kPairStride = 2 * kField;  // the edge columns; from one pair of C1 rows to the next
  static_assert(kEdge + 4 == kC1Side && kS2Side % 2 == 0, "C1's rows end in one half-tile; S2's rows pair up");
  for (int y = 0; y < kS2Side; ++y) {
    for (int x = 0; x < kEdge; x += 8) {
      const float* corner = field + y * kPairStride + x;
      c1_s2_tile(
          m, [&](int offset) { return _mm256_loadu_ps(corner + offset); },
          [&](int c, __m128 pooled) { _mm_storeu_ps(out + c * kS2Plane + y * kS2Side + x / 2, pooled); });
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
        [&](int c, __m128 pooled) {
          float* o = out + c * kS2Plane + y * kS2Side + kEdge / 2;
          _mm_storel_pi(reinterpret_cast<__m64*>(o), pooled);
          _mm_storeh_pi(reinterpret_cast<__m64*>(o + kS2Side), pooled);
        });
  }
}

// C3 without its bias, [100 pixels][16 maps]: each tile is 5 pixels of a row x 16 maps (10 named sums in
// registers), over the 150 inputs of a pixel (6 maps x 25 taps) at the offsets in `inputs`.
void c3(const Model& m, const int* inputs, const float* in, float* out) {
  for (int y = 0; y < kC3Side; ++y) {
    for (int x = 0; x < kC3Side; x += 5) {
      __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0;
      const float* corner = in + y * kS2Side + x;
      const float* w = m.c3_weight;
      for (int k = 0; k < kC3Inputs; ++k, w += kC3Maps) {
        const float* row = corner + inputs[k];
        const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
        __m256 v = _mm256_broadcast_ss(row);
        a0 = _mm256_fmadd_ps(v, w0, a0), b0 = _mm256_fmadd_ps(v, w1, b0), v = _mm256_broadcast_ss(row + 1);
        a1 = _mm256_fmadd_ps(v, w0, a1), b1 = _mm256_fmadd_ps(v, w1, b1), v = _mm256_broadcast_ss(row + 2);
        a2 = _mm256_fmadd_ps(v, w0, a2), b2 = _mm256_fmadd_ps(v, w1, b2), v = _mm256_broadcast_ss(row + 3);
        a3 = _mm256_fmadd_ps(v, w0, a3), b3 = _mm256_fmadd_ps(v, w1, b3), v = _mm256_broadcast_ss(row + 4);
        a4 = _mm256_fmadd_ps(v, w0, a4), b4 = _mm256_fmadd_ps(v, w1, b4);
      }
      float* o = out + (y * kC3Side + x) * kC3Maps;
      _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, b0), _mm256_storeu_ps(o + 16, a1);
      _mm256_storeu_ps(o + 24, b1), _mm256_storeu_ps(o + 32, a2), _mm256_storeu_ps(o + 40, b2);
      _mm256_storeu_ps(o + 48, a3), _mm256_storeu_ps(o + 56, b3), _mm256_storeu_ps(o + 64, a4);
      _mm256_storeu_ps(o + 72, b4);
    }
  }
}

// S4 with C3's bias and activation: [5][5][16], pixel-major.
void s4(const Model& m, const float* in, float* out) {
  for (int y = 0; y < kS4Side; ++y) {
    for (int x = 0; x < kS4Side; ++x) {
      const int corner = 2 * y * kC3Side + 2 * x;
      const int window[4] = {corner, corner + 1, corner + kC3Side, corner + kC3Side + 1};
      for (int half = 0; half < kC3Maps; half += 8) {
        const __m256 bias = _mm256_loadu_ps(m.c3_bias + half);
        __m256 value;
        if (m.classic) {
          value = _mm256_setzero_ps();
          for (int p : window)
            value = _mm256_add_ps(value, squash(m, _mm256_add_ps(_mm256_loadu_ps(in + p * kC3Maps + half), bias)));
          value =
              squash(m, _mm256_fmadd_ps(value, _mm256_loadu_ps(m.s4_weight + half), _mm256_loadu_ps(m.s4_bias + half)));
        } else {
          value = _mm256_loadu_ps(in + window[0] * kC3Maps + half);
          for (int q = 1; q < 4; ++q) value = _mm256_max_ps(value, _mm256_loadu_ps(in + window[q] * kC3Maps + half));
          value = relu(_mm256_add_ps(value, bias));
        }
        _mm256_storeu_ps(out + (y * kS4Side + x) * kC3Maps + half, value);
      }
    }
  }
}

// One tile of a dense layer: rows R x V vectors of units starting at unit j.
template <int R, int V>
void dense_tile(const float* in, int in_stride, int inputs, const float* w, int stride, const float* bias, int j,
                float* out) {
  __m256 sum[R][V];
  for (int v = 0; v < V; ++v) {
    const __m256 b = _mm256_loadu_ps(bias + j + 8 * v);
    for (int r = 0; r < R; ++r) sum[r][v] = b;
  }
  for (int k = 0; k < inputs; ++k) {
    __m256 wk[V];
    for (int v = 0; v < V; ++v) wk[v] = _mm256_loadu_ps(w + k * stride + j + 8 * v);
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(in + r * in_stride + k);
      for (int v = 0; v < V; ++v) sum[r][v] = _mm256_fmadd_ps(a, wk[v], sum[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + r * stride + j + 8 * v, sum[r][v]);
  }
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
void dense_row(const float* in, int inputs, const float* w, const float* bias, float* out) {
  __m256 sum[V];
  for (int v = 0; v < V; ++v) sum[v] = _mm256_loadu_ps(bias + 8 * v);
  for (int k = 0; k < inputs; ++k, w += 8 * V) {
    const __m256 a = _mm256_broadcast_ss(in + k);
    for (int v = 0; v < V; ++v) sum[v] = _mm256_fmadd_ps(a, _mm256_loadu_ps(w + 8 * v), sum[v]);
  }
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + 8 * v, sum[v]);
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
  int c3_inputs[kC3Inputs];  // where each of a C3 pixel's inputs lies in S2's output, from its corner
  for (int k = 0; k < kC3Inputs; ++k) c3_inputs[k] = k / kTaps * kS2Plane + k % kTaps / 5 * kS2Side + k % 5;
  float* features = scratch + kScratchFeatures;
  for (int i = 0; i < n; ++i) {
    fill_field(m, images + i * kImagePixels, scratch + kScratchField);
    c1_s2(m, scratch + kScratchField, scratch + kScratchS2);
    c3(m, c3_inputs, scratch + kScratchS2, scratch + kScratchC3);
    s4(m, scratch + kScratchC3, features + i * kFeatures);
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
