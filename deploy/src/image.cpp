#include "lenet5/deploy/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "lenet5/files/read.h"
#include "lenet5/files/write.h"

namespace lenet5::deploy {
namespace {
namespace fs = std::filesystem;

// Below this spread between background and the strongest ink (in [0,1]) the picture counts as blank.
constexpr float kMinContrast = 0.1f;
// Larger pictures (a 64-megapixel photo) are refused before decoding rather than exhausting memory.
constexpr long long kMaxPixels = 64LL * 1024 * 1024;

float luma(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

std::string lower_extension(const std::string& path) {
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
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
  auto middle = border.begin() + static_cast<std::ptrdiff_t>(border.size() / 2);
  std::nth_element(border.begin(), middle, border.end());
  return *middle;
}

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

}  // namespace

GrayImage read_image(const std::string& path) {
  std::string file;
  try {
    file = files::read_input(path, files::InputKind::kImage);  // once, and only a regular file
  } catch (const files::FileError& e) {
    throw ImageError(e.what());
  }
  const auto* file_bytes = reinterpret_cast<const stbi_uc*>(file.data());
  const int file_size = static_cast<int>(std::min<std::size_t>(file.size(), std::numeric_limits<int>::max()));
  int width = 0, height = 0, channels = 0;
  if (stbi_info_from_memory(file_bytes, file_size, &width, &height, &channels) != 0 &&
      static_cast<long long>(width) * static_cast<long long>(height) > kMaxPixels) {
    throw ImageError(path + ": image too large (" + std::to_string(width) + "x" + std::to_string(height) +
                     " pixels); scale it down first");
  }
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(file_bytes, file_size, &width, &height, &channels, 0), stbi_image_free);
  if (!data) {
    const char* reason = stbi_failure_reason();
    throw ImageError(path + ": cannot decode image (" + (reason != nullptr ? reason : "unknown error") +
                     "); expected PNG, JPEG, BMP, GIF, TGA or PGM/PPM");
  }
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4) {
    throw ImageError(path + ": unsupported image layout (" + std::to_string(channels) + " channels)");
  }
  GrayImage image(width, height);
  const auto n = static_cast<size_t>(width) * static_cast<size_t>(height);
  const auto c = static_cast<size_t>(channels);
  const stbi_uc* bytes = data.get();
  for (size_t i = 0; i < n; ++i) {
    const stbi_uc* p = bytes + i * c;
    float value = 0;
    float alpha = 1;
    switch (channels) {
      case 1: value = p[0] / 255.0f; break;
      case 2: value = p[0] / 255.0f; alpha = p[1] / 255.0f; break;
      case 3: value = luma(p[0], p[1], p[2]) / 255.0f; break;
      default: value = luma(p[0], p[1], p[2]) / 255.0f; alpha = p[3] / 255.0f; break;
    }
    image.pixels[i] = alpha * value + (1.0f - alpha);  // composited on white paper
  }
  return image;
}

std::string encode_image(const GrayImage& image, const std::string& extension) {
  std::vector<std::uint8_t> bytes(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), bytes.begin(), [](float v) {
    return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
  });
  std::string encoded;
  if (extension == ".png") {
    auto append = [](void* out, void* data, int size) {
      static_cast<std::string*>(out)->append(static_cast<char*>(data), static_cast<std::size_t>(size));
    };
    if (stbi_write_png_to_func(append, &encoded, image.width, image.height, 1, bytes.data(), image.width) == 0) {
      throw ImageError("cannot encode the image as PNG");
    }
  } else if (extension == ".pgm") {
    encoded = "P5\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
    encoded.append(bytes.begin(), bytes.end());
  } else {
    throw ImageError("cannot write '" + extension + "' images; use .png or .pgm");
  }
  return encoded;
}

void write_image(const std::string& path, const GrayImage& image) {
  try {
    files::write_file_atomically(path, encode_image(image, lower_extension(path)));
  } catch (const ImageError& e) {
    throw ImageError(path + ": " + e.what());
  } catch (const files::FileError& e) {
    throw ImageError(e.what());
  }
}

PreprocessOptions preprocess_options_for(const std::string& dataset) {
  PreprocessOptions options;
  if (dataset == "fashion-mnist") {
    options.box = options.side;
    options.center_of_mass = false;
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
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height)) {
    throw ImageError("empty image");
  }
  if (options.side <= 0 || options.box <= 0 || options.box > options.side) {
    throw std::invalid_argument("preprocess: box must be in [1, side]");
  }
  const float background = median_of_border(image);
  const bool invert = background > 0.5f;
  const float lo = invert ? 1.0f - background : background;
  float hi = lo;
  for (float v : image.pixels) hi = std::max(hi, invert ? 1.0f - v : v);
  if (hi - lo < kMinContrast) throw ImageError("no digit found: the picture is blank (no ink against its background)");

  // Ink in [0,1] over a zero background, and its bounding box.
  GrayImage ink(image.width, image.height);
  int x0 = image.width, y0 = image.height, x1 = -1, y1 = -1;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const float v = invert ? 1.0f - image.at(x, y) : image.at(x, y);
      const float level = std::clamp((v - lo) / (hi - lo), 0.0f, 1.0f);
      ink.at(x, y) = level;
      if (level > options.ink_threshold) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
    }
  }
  const int crop_w = x1 - x0 + 1, crop_h = y1 - y0 + 1;
  GrayImage crop(crop_w, crop_h);
  for (int y = 0; y < crop_h; ++y) {
    for (int x = 0; x < crop_w; ++x) crop.at(x, y) = ink.at(x0 + x, y0 + y);
  }

  const double scale = static_cast<double>(options.box) / std::max(crop_w, crop_h);
  const int w = std::clamp(static_cast<int>(std::lround(crop_w * scale)), 1, options.box);
  const int h = std::clamp(static_cast<int>(std::lround(crop_h * scale)), 1, options.box);
  GrayImage digit = resize(crop, w, h);
  // Thin strokes fade when shrunk; MNIST's strokes reach full intensity.
  const float peak = *std::max_element(digit.pixels.begin(), digit.pixels.end());
  if (peak > 0) {
    for (float& v : digit.pixels) v /= peak;
  }

  int offset_x = (options.side - w) / 2, offset_y = (options.side - h) / 2;
  if (options.center_of_mass) {
    const auto [cx, cy] = center_of_mass(digit);
    const double centre = options.side / 2.0;  // MNIST's mean centre of mass is (14.0, 14.0)
    offset_x = std::clamp(static_cast<int>(std::lround(centre - cx)), 0, options.side - w);
    offset_y = std::clamp(static_cast<int>(std::lround(centre - cy)), 0, options.side - h);
  }
  GrayImage field(options.side, options.side);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) field.at(offset_x + x, offset_y + y) = digit.at(x, y);
  }
  return field;
}

GrayImage load_digit(const std::string& path, const PreprocessOptions& options) {
  const GrayImage image = read_image(path);
  try {
    return preprocess(image, options);
  } catch (const ImageError& e) {
    throw ImageError(path + ": " + e.what());
  }
}

}  // namespace lenet5::deploy
