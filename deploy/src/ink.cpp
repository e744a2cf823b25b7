#include "ink.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "resample.h"

namespace lenet5::deploy {
namespace {

// A digit needs no more: larger pictures are shrunk (area averaging) before looking for ink.
constexpr int kWorkingSide = 1024;
// The paper is estimated over squares this fraction of the picture's shorter side: wider than any stroke of
// a digit that fills the picture, narrower than the shadows and gradients it removes.
constexpr double kPaperWindow = 0.4;
// Paper whose estimate on a sketch this many pixels across varies by less than kFlatPaper is one level.
constexpr int kSketchSide = 48;
constexpr float kFlatPaper = 0.02f;
// Paper darker than this (deep shadow) is divided by this instead, so its noise is not amplified.
constexpr float kDarkestPaper = 0.2f;
// Noise: pixels within this many standard deviations (estimated from the median absolute deviation) of the
// median, or within kMinNoiseFloor of it, are paper.
constexpr float kNoiseSigmas = 4.0f;
constexpr float kMinNoiseFloor = 0.025f;

// The value below which `fraction` of the border pixels lie.
float border_quantile(const GrayImage& image, double fraction) {
  std::vector<float> border;
  const int w = image.width, h = image.height;
  for (int x = 0; x < w; ++x) {
    border.push_back(image.at(x, 0));
    if (h > 1) border.push_back(image.at(x, h - 1));
  }
  for (int y = 1; y + 1 < h; ++y) {
    border.push_back(image.at(0, y));
    if (w > 1) border.push_back(image.at(w - 1, y));
  }
  const auto index = std::min(border.size() - 1, static_cast<size_t>(fraction * static_cast<double>(border.size())));
  auto at = border.begin() + static_cast<std::ptrdiff_t>(index);
  std::nth_element(border.begin(), at, border.end());
  return *at;
}

GrayImage working_copy(const GrayImage& image) {
  const int longer = std::max(image.width, image.height);
  if (longer <= kWorkingSide) return image;
  const double shrink = static_cast<double>(kWorkingSide) / longer;
  return resize(image, std::max(1, static_cast<int>(std::lround(image.width * shrink))),
                std::max(1, static_cast<int>(std::lround(image.height * shrink))));
}

// The paper without its ink: a closing on light paper (the strokes' dark valleys filled), an opening on dark.
// Computed on the picture extended by `radius` copies of its edge pixels: clipped windows would not follow a
// gradient up to the edge (the erosion would see only the lighter side there).
GrayImage paper_of(const GrayImage& image, int radius, bool light_paper) {
  const int w = image.width, h = image.height;
  GrayImage extended(w + 2 * radius, h + 2 * radius);
  for (int y = 0; y < extended.height; ++y) {
    for (int x = 0; x < extended.width; ++x) {
      extended.at(x, y) = image.at(std::clamp(x - radius, 0, w - 1), std::clamp(y - radius, 0, h - 1));
    }
  }
  const GrayImage filtered =
      light_paper ? min_filter(max_filter(extended, radius), radius) : max_filter(min_filter(extended, radius), radius);
  GrayImage paper(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) paper.at(x, y) = filtered.at(x + radius, y + radius);
  }
  return paper;
}

// Sums over rectangles in O(1): a summed-area table.
class SummedArea {
 public:
  SummedArea(const std::vector<double>& values, int width, int height)
      : width_(width), table_(static_cast<size_t>(width + 1) * static_cast<size_t>(height + 1), 0.0) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        at(x + 1, y + 1) = values[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)] +
                           at(x, y + 1) + at(x + 1, y) - at(x, y);
      }
    }
  }
  // The sum over [x0, x1) x [y0, y1).
  double sum(int x0, int y0, int x1, int y1) const { return at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0); }

 private:
  double& at(int x, int y) { return table_[index(x, y)]; }
  double at(int x, int y) const { return table_[index(x, y)]; }
  size_t index(int x, int y) const {
    return static_cast<size_t>(y) * static_cast<size_t>(width_ + 1) + static_cast<size_t>(x);
  }
  int width_;
  std::vector<double> table_;
};

// On a gradient the closing is too dark under a stroke (it takes the paper on the downhill side): there the
// paper becomes the average of the paper pixels within `radius`.
void fill_under_ink(GrayImage& paper, const GrayImage& ink, float floor, int radius) {
  const int w = paper.width, h = paper.height;
  const size_t n = paper.pixels.size();
  std::vector<double> is_paper(n), paper_values(n);
  for (size_t i = 0; i < n; ++i) {
    is_paper[i] = ink.pixels[i] <= floor ? 1.0 : 0.0;
    paper_values[i] = is_paper[i] * paper.pixels[i];
  }
  const SummedArea counts(is_paper, w, h), sums(paper_values, w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x);
      if (is_paper[i] != 0.0) continue;
      const int x0 = std::max(0, x - radius), x1 = std::min(w, x + radius + 1);
      const int y0 = std::max(0, y - radius), y1 = std::min(h, y + radius + 1);
      const double count = counts.sum(x0, y0, x1, y1);
      if (count > 0.5) paper.pixels[i] = static_cast<float>(sums.sum(x0, y0, x1, y1) / count);
    }
  }
}

// The median of values in [0, 1], to 1/4096, from a histogram (no copy to sort).
template <typename Value>
float median_in_unit_range(const std::vector<float>& pixels, Value value) {
  constexpr int kBins = 4096;
  std::vector<size_t> histogram(kBins, 0);
  for (float v : pixels) ++histogram[static_cast<size_t>(std::clamp(value(v), 0.0f, 1.0f) * (kBins - 1))];
  size_t seen = 0;
  int bin = 0;
  while (bin < kBins - 1 && (seen += histogram[static_cast<size_t>(bin)]) <= pixels.size() / 2) ++bin;
  return static_cast<float>(bin) / (kBins - 1);
}

float noise_floor_of(const GrayImage& ink, float* background) {
  *background = median_in_unit_range(ink.pixels, [](float v) { return v; });
  const float deviation = median_in_unit_range(ink.pixels, [&](float v) { return std::abs(v - *background); });
  return *background + std::max(kNoiseSigmas * 1.4826f * deviation, kMinNoiseFloor);
}

// Ink high: on light paper how much of the paper's brightness the pixel lacks, on dark paper how much it adds.
GrayImage ink_against(const GrayImage& image, const GrayImage& paper, bool light_paper, bool relative) {
  GrayImage ink(image.width, image.height);
  for (size_t i = 0; i < ink.pixels.size(); ++i) {
    const float p = paper.pixels[i], v = image.pixels[i];
    const float difference = light_paper ? p - v : v - p;
    ink.pixels[i] = std::max(0.0f, relative ? difference / std::max(p, kDarkestPaper) : difference);
  }
  return ink;
}

// Whether the paper is one level: its estimate on a sketch of the picture about kSketchSide pixels across
// varies by less than kFlatPaper. Such pictures (scans, drawings on a canvas) skip the full-size estimate,
// which would find that level everywhere.
bool paper_is_flat(const GrayImage& work, bool light_paper) {
  const double shrink = std::min(1.0, static_cast<double>(kSketchSide) / std::min(work.width, work.height));
  const GrayImage sketch = resize(work, std::max(1, static_cast<int>(std::lround(work.width * shrink))),
                                  std::max(1, static_cast<int>(std::lround(work.height * shrink))));
  const int radius = std::max(1, static_cast<int>(kPaperWindow * std::min(sketch.width, sketch.height) / 2));
  const GrayImage paper = paper_of(sketch, radius, light_paper);
  const auto [lo, hi] = std::minmax_element(paper.pixels.begin(), paper.pixels.end());
  return *hi - *lo < kFlatPaper;
}

// Ink measured against the paper around it. The paper is light when the lighter quarter of the border is:
// a shadow may cover most of a page's border, a digit rarely a quarter of it.
GrayImage ink_on_flattened_paper(const GrayImage& work, InkMap* map) {
  const bool light_paper = border_quantile(work, 0.75) > 0.5f;
  if (paper_is_flat(work, light_paper)) {
    const float level = border_quantile(work, light_paper ? 0.75 : 0.25);
    return ink_against(work, GrayImage(work.width, work.height, level), light_paper, light_paper);
  }
  const int radius = std::max(1, static_cast<int>(kPaperWindow * std::min(work.width, work.height) / 2));
  GrayImage paper = paper_of(work, radius, light_paper);
  const GrayImage first = ink_against(work, paper, light_paper, light_paper);
  fill_under_ink(paper, first, noise_floor_of(first, &map->background), std::max(1, radius / 2));
  return ink_against(work, paper, light_paper, light_paper);
}

}  // namespace

InkMap find_ink(const GrayImage& image, bool flatten_background) {
  const GrayImage work = working_copy(image);
  InkMap map;
  map.scale_x = static_cast<double>(image.width) / work.width;
  map.scale_y = static_cast<double>(image.height) / work.height;
  if (flatten_background) {
    map.ink = ink_on_flattened_paper(work, &map);
  } else {
    const float border = border_quantile(work, 0.5);
    map.ink = ink_against(work, GrayImage(work.width, work.height, border), border > 0.5f, false);
  }
  map.noise_floor = noise_floor_of(map.ink, &map.background);
  return map;
}

}  // namespace lenet5::deploy
