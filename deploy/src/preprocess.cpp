#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "ink.h"
#include "lenet5/deploy/image.h"
#include "lenet5/text/printable.h"
#include "resample.h"
#include "segmentation.h"

namespace lenet5::deploy {
namespace {

// The digit pasted into the side x side field, centred by mass or by its box.
GrayImage placed_in_field(const GrayImage& digit, const PreprocessOptions& options) {
  const int w = digit.width, h = digit.height;
  int offset_x = (options.side - w) / 2, offset_y = (options.side - h) / 2;
  if (options.center_of_mass) {
    const auto [cx, cy] = center_of_mass(digit);
    const double centre = options.side / 2.0;  // MNIST's mean centre of mass is (14.0, 14.0)
    // To 1/100 pixel first: a symmetric digit's centre falls halfway between two pixels, and noise far below a
    // pixel (JPEG's) must not move it by one.
    auto offset = [&](double mass_centre, int limit) {
      return std::clamp(static_cast<int>(std::lround(std::round((centre - mass_centre) * 100) / 100)), 0, limit);
    };
    offset_x = offset(cx, options.side - w);
    offset_y = offset(cy, options.side - h);
  }
  GrayImage field(options.side, options.side);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) field.at(offset_x + x, offset_y + y) = digit.at(x, y);
  }
  return field;
}

// The digit scaled into the box (aspect ratio kept) and placed in the field.
GrayImage mnist_view(const GrayImage& crop, const PreprocessOptions& options) {
  const double scale = static_cast<double>(options.box) / std::max(crop.width, crop.height);
  const int w = std::clamp(static_cast<int>(std::lround(crop.width * scale)), 1, options.box);
  const int h = std::clamp(static_cast<int>(std::lround(crop.height * scale)), 1, options.box);
  GrayImage digit = resize(crop, w, h);
  // Thin strokes fade when shrunk; MNIST's strokes reach full intensity.
  const float peak = *std::max_element(digit.pixels.begin(), digit.pixels.end());
  if (peak > 0) {
    for (float& v : digit.pixels) v /= peak;
  }
  return placed_in_field(digit, options);
}

std::vector<InkRegion> ink_regions(const GrayImage& image, const PreprocessOptions& options, bool split) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height)) {
    throw ImageError("empty image");
  }
  if (options.side <= 0 || options.box <= 0 || options.box > options.side) {
    throw std::invalid_argument("preprocess: box must be in [1, side]");
  }
  if (!(options.ink_threshold >= 0.0f && options.ink_threshold < 1.0f)) {
    throw std::invalid_argument("preprocess: ink_threshold must be in [0, 1)");
  }
  return find_digits(find_ink(image, options.flatten_background), options.ink_threshold, split);
}

}  // namespace

PreprocessOptions preprocess_options_for(data::DatasetKind dataset) {
  PreprocessOptions options;
  if (dataset == data::DatasetKind::kFashionMnist) {
    options.box = options.side;
    options.center_of_mass = false;
    options.flatten_background = false;  // a garment fills its picture: no stroke on paper
    options.split_digits = false;
  }
  return options;
}

std::pair<double, double> center_of_mass(const GrayImage& image) {
  double total = 0, sum_x = 0, sum_y = 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const double v = image.at(x, y);
      total += v;
      sum_x += v * x;
      sum_y += v * y;
    }
  }
  if (total <= 0) return {-1.0, -1.0};
  return {sum_x / total, sum_y / total};
}

GrayImage preprocess(const GrayImage& image, const PreprocessOptions& options) {
  return mnist_view(ink_regions(image, options, /*split=*/false).front().crop, options);
}

std::vector<DigitView> read_digits(const GrayImage& image, const PreprocessOptions& options) {
  std::vector<DigitView> digits;
  for (const auto& region : ink_regions(image, options, options.split_digits)) {
    DigitView digit;
    digit.view = mnist_view(region.crop, options);
    digit.x = region.x, digit.y = region.y, digit.width = region.width, digit.height = region.height;
    digits.push_back(std::move(digit));
  }
  return digits;
}

GrayImage load_digit(const std::string& path, const PreprocessOptions& options) {
  const GrayImage image = read_image(path);
  try {
    return preprocess(image, options);
  } catch (const ImageError& e) {
    throw ImageError(text::printable(path) + ": " + e.what());
  }
}

std::vector<DigitView> load_digits(const std::string& path, const PreprocessOptions& options) {
  const GrayImage image = read_image(path);
  try {
    return read_digits(image, options);
  } catch (const ImageError& e) {
    throw ImageError(text::printable(path) + ": " + e.what());
  }
}

}  // namespace lenet5::deploy
