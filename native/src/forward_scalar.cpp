// The portable kernels, and the reference every other instruction set is tested against: the same layouts
// and order of layers as forward_avx2.cpp, written as plain loops.
#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace lenet5::native::detail {
namespace {

float squash(const Model& m, float a) { return m.squash_amplitude * std::tanh(m.squash_slope * a); }

// One subsampling window (S2, S4) after its convolution's bias: classic, the paper's trainable average of the
// squashed values; modern, the ReLU of the window's maximum. `map` indexes the classic layer's weight and bias.
float subsample(const Model& m, const float (&window)[4], float bias, int map, const float* weight,
                const float* weight_bias) {
  if (!m.classic) return std::max(0.0f, *std::max_element(window, window + 4) + bias);
  float sum = 0;
  for (float a : window) sum += squash(m, a + bias);
  return squash(m, sum * weight[map] + weight_bias[map]);
}

void fill_field(const Model& m, const float* image, float* field) {
  std::fill(field, field + kFieldFloats, m.border_value);
  for (int y = 0; y < kImage; ++y) {
    for (int x = 0; x < kImage; ++x)
      field[(y + 2) * kField + x + 2] = image[y * kImage + x] * m.input_scale + m.input_shift;
  }
}

// C1 without its bias: [6][28][32], columns 28-31 unused.
void c1(const Model& m, const float* field, float* out) {
  for (int c = 0; c < kC1Maps; ++c) {
    for (int y = 0; y < kC1Side; ++y) {
      for (int x = 0; x < kC1Side; ++x) {
        float sum = 0;
        for (int tap = 0; tap < kTaps; ++tap) {
          sum += field[(y + tap / 5) * kField + x + tap % 5] * m.c1_weight[tap * kC1Lanes + c];
        }
        out[c * kC1Plane + y * kC1Stride + x] = sum;
      }
    }
  }
}

// S2 (with C1's bias and activation): [6][14][14].
void s2(const Model& m, const float* in, float* out) {
  for (int c = 0; c < kC1Maps; ++c) {
    for (int y = 0; y < kS2Side; ++y) {
      for (int x = 0; x < kS2Side; ++x) {
        const float* corner = in + c * kC1Plane + 2 * y * kC1Stride + 2 * x;
        const float window[4] = {corner[0], corner[1], corner[kC1Stride], corner[kC1Stride + 1]};
        out[c * kS2Plane + y * kS2Side + x] = subsample(m, window, m.c1_bias[c], c, m.s2_weight, m.s2_bias);
      }
    }
  }
}

// C3 without its bias: [100 pixels][16 maps].
void c3(const Model& m, const float* in, float* out) {
  for (int y = 0; y < kC3Side; ++y) {
    for (int x = 0; x < kC3Side; ++x) {
      float sums[kC3Maps] = {};
      for (int c = 0; c < kC1Maps; ++c) {
        for (int ky = 0; ky < 5; ++ky) {
          for (int kx = 0; kx < 5; ++kx) {
            const float a = in[c * kS2Plane + (y + ky) * kS2Side + x + kx];
            const float* w = m.c3_weight + (c * kTaps + ky * 5 + kx) * kC3Maps;
            for (int o = 0; o < kC3Maps; ++o) sums[o] += a * w[o];
          }
        }
      }
      std::copy(sums, sums + kC3Maps, out + (y * kC3Side + x) * kC3Maps);
    }
  }
}

// S4 (with C3's bias and activation): [5][5][16], pixel-major.
void s4(const Model& m, const float* in, float* out) {
  for (int y = 0; y < kS4Side; ++y) {
    for (int x = 0; x < kS4Side; ++x) {
      for (int o = 0; o < kC3Maps; ++o) {
        const int corner = 2 * y * kC3Side + 2 * x;
        const float window[4] = {in[corner * kC3Maps + o], in[(corner + 1) * kC3Maps + o],
                                 in[(corner + kC3Side) * kC3Maps + o], in[(corner + kC3Side + 1) * kC3Maps + o]};
        out[(y * kS4Side + x) * kC3Maps + o] = subsample(m, window, m.c3_bias[o], o, m.s4_weight, m.s4_bias);
      }
    }
  }
}

// out[r][j] = activation(bias[j] + sum_k in[r][k] w[k][j]) for j < units; w's rows are `stride` wide.
void dense(const Model& m, const float* in, int rows, int in_stride, int inputs, const float* w, const float* bias,
           int units, int stride, bool activate, float* out) {
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < units; ++j) {
      float sum = bias[j];
      for (int k = 0; k < inputs; ++k) sum += in[r * in_stride + k] * w[k * stride + j];
      if (activate) sum = m.classic ? squash(m, sum) : std::max(0.0f, sum);
      out[r * stride + j] = sum;
    }
  }
}

}  // namespace

void forward_block_scalar(const Model& m, const float* images, int n, float* scores, float* scratch) {
  float* features = scratch + kScratchFeatures;
  for (int i = 0; i < n; ++i) {
    fill_field(m, images + i * kImagePixels, scratch + kScratchField);
    c1(m, scratch + kScratchField, scratch + kScratchC1);
    s2(m, scratch + kScratchC1, scratch + kScratchS2);
    c3(m, scratch + kScratchS2, scratch + kScratchC3);
    s4(m, scratch + kScratchC3, features + i * kFeatures);
  }
  float* c5 = scratch + kScratchC5;
  float* f6 = scratch + kScratchF6;
  dense(m, features, n, kFeatures, kFeatures, m.c5_weight, m.c5_bias, kC5Units, kC5Units, true, c5);
  dense(m, c5, n, kC5Units, kC5Units, m.f6_weight, m.f6_bias, kF6Units, kF6Padded, true, f6);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < kClasses; ++j) {
      float score = 0;
      if (m.classic) {  // minus the squared Euclidean distance to digit j's prototype
        for (int k = 0; k < kF6Units; ++k)
          score -= (f6[i * kF6Padded + k] - m.prototypes[j * kF6Units + k]) *
                   (f6[i * kF6Padded + k] - m.prototypes[j * kF6Units + k]);
      } else {
        score = m.output_bias[j];
        for (int k = 0; k < kF6Units; ++k) score += f6[i * kF6Padded + k] * m.output_weight[k * kOutputPadded + j];
      }
      scores[i * kClasses + j] = score;
    }
  }
}

}  // namespace lenet5::native::detail
