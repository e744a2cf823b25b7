#include "resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace lenet5::deploy {
namespace {

struct Tap {
  int index;
  float weight;
};

// For each output position along one axis, the input pixels it reads and their weights: the covered
// interval's average when shrinking (area), linear interpolation between pixel centres when enlarging.
std::vector<std::vector<Tap>> resample_taps(int in, int out) {
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int o = 0; o < out; ++o) {
    auto& row = taps[static_cast<size_t>(o)];
    if (out < in) {
      const double lo = o * scale, hi = (o + 1) * scale;
      for (int i = static_cast<int>(std::floor(lo)); i < std::min(in, static_cast<int>(std::ceil(hi))); ++i) {
        const double overlap = std::min(hi, i + 1.0) - std::max(lo, static_cast<double>(i));
        if (overlap > 0) row.push_back({i, static_cast<float>(overlap / scale)});
      }
    } else {
      const double source = std::clamp((o + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
      const int i0 = static_cast<int>(std::floor(source));
      const int i1 = std::min(i0 + 1, in - 1);
      const auto fraction = static_cast<float>(source - i0);
      row.push_back({i0, 1.0f - fraction});
      if (i1 != i0) row.push_back({i1, fraction});
    }
  }
  return taps;
}

}  // namespace

GrayImage resize(const GrayImage& image, int width, int height) {
  const auto horizontal = resample_taps(image.width, width);
  const auto vertical = resample_taps(image.height, height);
  GrayImage rows(width, image.height);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < width; ++x) {
      float sum = 0;
      for (const auto& tap : horizontal[static_cast<size_t>(x)]) sum += tap.weight * image.at(tap.index, y);
      rows.at(x, y) = sum;
    }
  }
  GrayImage resized(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      float sum = 0;
      for (const auto& tap : vertical[static_cast<size_t>(y)]) sum += tap.weight * rows.at(x, tap.index);
      resized.at(x, y) = std::clamp(sum, 0.0f, 1.0f);
    }
  }
  return resized;
}
namespace {

// out[i] = the extreme of in[i - radius .. i + radius] (clipped), for `n` values `stride` apart: a monotonic
// queue of candidate indices, so each value is pushed and popped once whatever the radius.
template <typename Better>
void sliding_extreme(const float* in, float* out, int n, int stride, int radius, std::vector<int>& queue,
                     Better better) {
  queue.resize(static_cast<size_t>(n));
  size_t head = 0, tail = 0;
  auto value = [&](int i) { return in[static_cast<size_t>(i) * static_cast<size_t>(stride)]; };
  for (int i = 0; i < n + radius; ++i) {
    if (i < n) {
      while (tail > head && !better(value(queue[tail - 1]), value(i))) --tail;
      queue[tail++] = i;
    }
    const int centre = i - radius;
    if (centre < 0) continue;
    while (queue[head] < centre - radius) ++head;
    out[static_cast<size_t>(centre) * static_cast<size_t>(stride)] = value(queue[head]);
  }
}

template <typename Better>
GrayImage separable_extreme(const GrayImage& image, int radius, Better better) {
  const int w = image.width, h = image.height;
  GrayImage rows(w, h), result(w, h);
  std::vector<int> queue;
  for (int y = 0; y < h; ++y) {
    const size_t row = static_cast<size_t>(y) * static_cast<size_t>(w);
    sliding_extreme(image.pixels.data() + row, rows.pixels.data() + row, w, 1, radius, queue, better);
  }
  for (int x = 0; x < w; ++x)
    sliding_extreme(rows.pixels.data() + x, result.pixels.data() + x, h, w, radius, queue, better);
  return result;
}

}  // namespace

GrayImage max_filter(const GrayImage& image, int radius) {
  return separable_extreme(image, radius, [](float a, float b) { return a > b; });
}

GrayImage min_filter(const GrayImage& image, int radius) {
  return separable_extreme(image, radius, [](float a, float b) { return a < b; });
}

}  // namespace lenet5::deploy
