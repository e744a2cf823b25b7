#include "segmentation.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

namespace lenet5::deploy {
namespace {

// Below this spread between the paper and a mark's strongest ink (in [0,1], relative to light paper) the mark
// is not ink; nor below twice the noise floor's margin.
constexpr float kMinContrast = 0.05f;
// A mark with fewer pixels than this fraction of the largest one's, and shorter than kMinHeightFraction of
// the tallest, is a speck, not a digit of its own (pixels, not ink: faint digits beside black dust).
constexpr double kMinPixelFraction = 0.05;
constexpr double kMinHeightFraction = 0.4;
// Marks whose horizontal extents overlap by this fraction of the narrower one belong to one digit.
constexpr double kMergeOverlap = 0.5;
// More digits than this is not a number: a page of text, a texture or noise.
constexpr size_t kMaxDigits = 32;

struct Component {
  int x0 = 0, y0 = 0, x1 = -1, y1 = -1;
  long pixels = 0;
  double ink = 0;  // sum of the levels
  float peak = 0;
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
};

struct Components {
  std::vector<int> label;  // per pixel: the component's index, -1 for paper
  std::vector<Component> list;
};

Components label_components(const GrayImage& ink, float floor) {
  const int w = ink.width, h = ink.height;
  Components components;
  components.label.assign(ink.pixels.size(), -1);
  std::vector<int> stack;
  for (int start = 0; start < w * h; ++start) {
    if (components.label[static_cast<size_t>(start)] >= 0 || ink.pixels[static_cast<size_t>(start)] <= floor) continue;
    const int id = static_cast<int>(components.list.size());
    Component c{start % w, start / w, start % w, start / w};
    components.label[static_cast<size_t>(start)] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      const int x = p % w, y = p / w;
      const float v = ink.pixels[static_cast<size_t>(p)];
      c.x0 = std::min(c.x0, x), c.x1 = std::max(c.x1, x), c.y0 = std::min(c.y0, y), c.y1 = std::max(c.y1, y);
      c.pixels += 1, c.ink += v, c.peak = std::max(c.peak, v);
      for (int ny = std::max(0, y - 1); ny <= std::min(h - 1, y + 1); ++ny) {
        for (int nx = std::max(0, x - 1); nx <= std::min(w - 1, x + 1); ++nx) {
          const size_t q = static_cast<size_t>(ny) * static_cast<size_t>(w) + static_cast<size_t>(nx);
          if (components.label[q] >= 0 || ink.pixels[q] <= floor) continue;
          components.label[q] = id;
          stack.push_back(static_cast<int>(q));
        }
      }
    }
    components.list.push_back(c);
  }
  return components;
}

// The components that are ink: strong enough, and not smaller than a speck.
std::vector<int> marks_of(const Components& components, const InkMap& map) {
  const int min_extent = std::max(3, std::max(map.ink.width, map.ink.height) / 100);
  const float min_peak = map.background + std::max(kMinContrast, 2 * (map.noise_floor - map.background));
  std::vector<int> marks;
  for (size_t i = 0; i < components.list.size(); ++i) {
    const auto& c = components.list[i];
    if (c.peak >= min_peak && std::max(c.width(), c.height()) >= min_extent) {
      marks.push_back(static_cast<int>(i));
    }
  }
  if (marks.empty()) throw ImageError("no digit found: the picture is blank (no ink against its background)");
  return marks;
}

bool overlap_horizontally(const Component& a, const Component& b) {
  const int overlap = std::min(a.x1, b.x1) - std::max(a.x0, b.x0) + 1;
  return overlap >= kMergeOverlap * std::min(a.width(), b.width());
}

Component united(const Component& a, const Component& b) {
  Component c;
  c.x0 = std::min(a.x0, b.x0), c.y0 = std::min(a.y0, b.y0), c.x1 = std::max(a.x1, b.x1), c.y1 = std::max(a.y1, b.y1);
  c.pixels = a.pixels + b.pixels, c.ink = a.ink + b.ink, c.peak = std::max(a.peak, b.peak);
  return c;
}

// A digit in the making: the box around its components.
struct Group {
  Component box;
  std::vector<int> members;
};

// The marks large enough to be (part of) a digit, one group each, and the specks.
std::pair<std::vector<Group>, std::vector<int>> groups_and_specks(const Components& components,
                                                                  const std::vector<int>& marks) {
  long largest = 0;
  int tallest = 0;
  for (int m : marks) {
    largest = std::max(largest, components.list[static_cast<size_t>(m)].pixels);
    tallest = std::max(tallest, components.list[static_cast<size_t>(m)].height());
  }
  std::vector<Group> groups;
  std::vector<int> specks;
  for (int m : marks) {
    const auto& c = components.list[static_cast<size_t>(m)];
    if (c.pixels < kMinPixelFraction * largest && c.height() < kMinHeightFraction * tallest) {
      specks.push_back(m);
    } else {
      groups.push_back({c, {m}});
    }
  }
  return {groups, specks};
}

// Merges groups until no two overlap horizontally (a merge widens a group, which may then overlap another);
// without `split`, into one. Returns them left to right.
std::vector<Group> merged_left_to_right(std::vector<Group> groups, bool split) {
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t a = 0; a < groups.size() && !merged; ++a) {
      for (size_t b = a + 1; b < groups.size() && !merged; ++b) {
        if (split && !overlap_horizontally(groups[a].box, groups[b].box)) continue;
        groups[a].box = united(groups[a].box, groups[b].box);
        groups[a].members.insert(groups[a].members.end(), groups[b].members.begin(), groups[b].members.end());
        groups.erase(groups.begin() + static_cast<std::ptrdiff_t>(b));
        merged = true;
      }
    }
  }
  std::sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) { return a.box.x0 < b.box.x0; });
  return groups;
}

// Per component, the digit it belongs to (-1: none); digits numbered left to right. A speck belongs to the
// digit whose box holds its centre.
std::vector<int> digit_of_components(const Components& components, const std::vector<int>& marks, bool split) {
  auto [groups, specks] = groups_and_specks(components, marks);
  const std::vector<Group> digits = merged_left_to_right(std::move(groups), split);
  if (digits.size() > kMaxDigits) {
    throw ImageError("no number found: " + std::to_string(digits.size()) + " separate marks (at most " +
                     std::to_string(kMaxDigits) + " digits are read)");
  }
  std::vector<int> digit_of(components.list.size(), -1);
  for (size_t d = 0; d < digits.size(); ++d) {
    for (int m : digits[d].members) digit_of[static_cast<size_t>(m)] = static_cast<int>(d);
  }
  for (int m : specks) {
    const auto& c = components.list[static_cast<size_t>(m)];
    const double cx = (c.x0 + c.x1) / 2.0, cy = (c.y0 + c.y1) / 2.0;
    for (size_t d = 0; d < digits.size(); ++d) {
      const auto& box = digits[d].box;
      if (cx >= box.x0 && cx <= box.x1 && cy >= box.y0 && cy <= box.y1)
        digit_of[static_cast<size_t>(m)] = static_cast<int>(d);
    }
  }
  return digit_of;
}

// The digit's ink above the noise floor, scaled so that its peak is 1, cropped to its pixels above `ink_threshold` of
// the peak.
InkRegion cut_out(const InkMap& map, const Components& components, const std::vector<int>& digit_of, int digit,
                  float ink_threshold) {
  const GrayImage& ink = map.ink;
  auto in_digit = [&](size_t p) {
    const int id = components.label[p];
    return id >= 0 && digit_of[static_cast<size_t>(id)] == digit;
  };
  float peak = 0;
  for (size_t p = 0; p < ink.pixels.size(); ++p) {
    if (in_digit(p)) peak = std::max(peak, ink.pixels[p]);
  }
  int x0 = ink.width, y0 = ink.height, x1 = -1, y1 = -1;
  for (int y = 0; y < ink.height; ++y) {
    for (int x = 0; x < ink.width; ++x) {
      const size_t p = static_cast<size_t>(y) * static_cast<size_t>(ink.width) + static_cast<size_t>(x);
      if (!in_digit(p) || ink.pixels[p] <= ink_threshold * peak) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  InkRegion region;
  region.crop = GrayImage(x1 - x0 + 1, y1 - y0 + 1);
  for (int y = 0; y < region.crop.height; ++y) {
    for (int x = 0; x < region.crop.width; ++x) {
      const size_t p = static_cast<size_t>(y0 + y) * static_cast<size_t>(ink.width) + static_cast<size_t>(x0 + x);
      const float above_paper = (ink.pixels[p] - map.noise_floor) / (peak - map.noise_floor);
      region.crop.at(x, y) = in_digit(p) ? std::clamp(above_paper, 0.0f, 1.0f) : 0.0f;
    }
  }
  region.x = static_cast<int>(std::floor(x0 * map.scale_x));
  region.y = static_cast<int>(std::floor(y0 * map.scale_y));
  region.width = static_cast<int>(std::ceil((x1 + 1) * map.scale_x)) - region.x;
  region.height = static_cast<int>(std::ceil((y1 + 1) * map.scale_y)) - region.y;
  return region;
}

}  // namespace

std::vector<InkRegion> find_digits(const InkMap& map, float ink_threshold, bool split) {
  const Components components = label_components(map.ink, map.noise_floor);
  const std::vector<int> digit_of = digit_of_components(components, marks_of(components, map), split);
  const int digits = *std::max_element(digit_of.begin(), digit_of.end()) + 1;
  std::vector<InkRegion> regions;
  for (int d = 0; d < digits; ++d) regions.push_back(cut_out(map, components, digit_of, d, ink_threshold));
  return regions;
}

}  // namespace lenet5::deploy
