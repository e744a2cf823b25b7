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
// Paper darker than this (deep shadow) is divided by this instead, so its noise is not amplified.
constexpr float kDarkestPaper = 0.2f;
// Noise: pixels within this many standard deviations (estimated from the median absolute deviation) of the
// median, or within kMinNoiseFloor of it, are paper.
constexpr float kNoiseSigmas = 4.0f;
constexpr float kMinNoiseFloor = 0.025f;

float median_of(std::vector<float> values) {
  auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

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

// The sum of `image` over the (2 radius + 1)^2 square around each pixel (clipped), from a summed-area table.
std::vector<double> box_sums(const std::vector<double>& values, int w, int h, int radius) {
  std::vector<double> table(static_cast<size_t>(w + 1) * static_cast<size_t>(h + 1), 0.0);
  auto at = [&](int x, int y) -> double& {
    return table[static_cast<size_t>(y) * static_cast<size_t>(w + 1) + static_cast<size_t>(x)];
  };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x)
      at(x + 1, y + 1) = values[static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)] +
                         at(x, y + 1) + at(x + 1, y) - at(x, y);
  }
  std::vector<double> sums(values.size());
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int x0 = std::max(0, x - radius), x1 = std::min(w, x + radius + 1);
      const int y0 = std::max(0, y - radius), y1 = std::min(h, y + radius + 1);
      sums[static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)] =
          at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0);
    }
  }
  return sums;
}

// On a gradient the closing is too dark under a stroke (it takes the paper on the downhill side): there the
// paper becomes the average of the paper around, within `radius`.
void fill_under_ink(GrayImage& paper, const GrayImage& ink, float floor, int radius) {
  const size_t n = paper.pixels.size();
  std::vector<double> is_paper(n), paper_values(n);
  for (size_t i = 0; i < n; ++i) {
    is_paper[i] = ink.pixels[i] <= floor ? 1.0 : 0.0;
    paper_values[i] = is_paper[i] * paper.pixels[i];
  }
  const auto counts = box_sums(is_paper, paper.width, paper.height, radius);
  const auto sums = box_sums(paper_values, paper.width, paper.height, radius);
  for (size_t i = 0; i < n; ++i) {
    if (is_paper[i] == 0.0 && counts[i] > 0.5) paper.pixels[i] = static_cast<float>(sums[i] / counts[i]);
  }
}

float noise_floor_of(const GrayImage& ink, float* background) {
  *background = median_of(ink.pixels);
  std::vector<float> deviations(ink.pixels.size());
  std::transform(ink.pixels.begin(), ink.pixels.end(), deviations.begin(),
                 [&](float v) { return std::abs(v - *background); });
  const float sigma = 1.4826f * median_of(std::move(deviations));
  return *background + std::max(kNoiseSigmas * sigma, kMinNoiseFloor);
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

// Ink measured against the paper around it. The paper is light when the lighter quarter of the border is:
// a shadow may cover most of a page's border, a digit rarely a quarter of it.
GrayImage ink_on_flattened_paper(const GrayImage& work, InkMap* map) {
  const int radius = std::max(1, static_cast<int>(kPaperWindow * std::min(work.width, work.height) / 2));
  const bool light_paper = border_quantile(work, 0.75) > 0.5f;
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
