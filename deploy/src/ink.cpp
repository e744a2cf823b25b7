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

float median_of_border(const GrayImage& image) {
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
  return median_of(std::move(border));
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

}  // namespace

InkMap find_ink(const GrayImage& image, bool flatten_background) {
  const GrayImage work = working_copy(image);
  const float border = median_of_border(work);
  const bool light_paper = border > 0.5f;
  InkMap map;
  map.scale_x = static_cast<double>(image.width) / work.width;
  map.scale_y = static_cast<double>(image.height) / work.height;
  if (flatten_background) {
    const int radius = std::max(1, static_cast<int>(kPaperWindow * std::min(work.width, work.height) / 2));
    map.ink = ink_against(work, paper_of(work, radius, light_paper), light_paper, light_paper);
  } else {
    map.ink = ink_against(work, GrayImage(work.width, work.height, border), light_paper, false);
  }
  map.background = median_of(map.ink.pixels);
  std::vector<float> deviations(map.ink.pixels.size());
  std::transform(map.ink.pixels.begin(), map.ink.pixels.end(), deviations.begin(),
                 [&](float v) { return std::abs(v - map.background); });
  const float sigma = 1.4826f * median_of(std::move(deviations));
  map.noise_floor = map.background + std::max(kNoiseSigmas * sigma, kMinNoiseFloor);
  return map;
}

}  // namespace lenet5::deploy
