#include "lenet5/deploy/image.h"

#include "image_format.h"
#include "lenet5/text/printable.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>

#include "lenet5/files/read.h"
#include "lenet5/files/write.h"

namespace lenet5::deploy {
using text::printable;
namespace {
namespace fs = std::filesystem;

// Larger pictures are refused from their header, before decoding: a digit needs no more, and decoding plus
// preprocessing a picture this large peaks at about 10 bytes a pixel (164 MB for a 4096x4096 RGBA PNG).
constexpr long long kMaxPixels = 4096LL * 4096;
// No supported picture within kMaxPixels needs more (16-bit PPM, 6 bytes a pixel, is the largest).
constexpr std::uintmax_t kMaxFileBytes = 6 * static_cast<std::uintmax_t>(kMaxPixels) + (1u << 20);
constexpr const char* kSupportedFormats = "PNG, JPEG, BMP, GIF, TGA or binary PGM/PPM (P5/P6)";

float luma(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

std::string first_bytes(const std::vector<std::uint8_t>& bytes) {
  std::string text;
  char hex[4];
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 4); ++i) {
    std::snprintf(hex, sizeof hex, i == 0 ? "%02X" : " %02X", bytes[i]);
    text += hex;
  }
  return text;
}

// stb_image reading from memory through callbacks, so that a decoder asking for bytes past the end (which
// stb answers with zeros instead of failing) is noticed.
struct MemoryReader {
  const std::vector<std::uint8_t>* bytes = nullptr;
  size_t position = 0;
  bool ran_past_end = false;

  static int read(void* user, char* out, int size) {
    auto& self = *static_cast<MemoryReader*>(user);
    const size_t available = self.bytes->size() - std::min(self.position, self.bytes->size());
    const size_t n = std::min(available, static_cast<size_t>(std::max(size, 0)));
    if (n == 0 && size > 0) self.ran_past_end = true;
    if (n > 0) std::memcpy(out, self.bytes->data() + self.position, n);
    self.position += n;
    return static_cast<int>(n);
  }
  static void skip(void* user, int n) {
    auto& self = *static_cast<MemoryReader*>(user);
    if (n < 0) {
      self.position -= std::min(self.position, static_cast<size_t>(-static_cast<long long>(n)));
      return;
    }
    self.position += static_cast<size_t>(n);  // skipping past the end is harmless until something is read there
  }
  static int eof(void* user) {
    const auto& self = *static_cast<MemoryReader*>(user);
    return self.position >= self.bytes->size() ? 1 : 0;
  }
  static constexpr stbi_io_callbacks kCallbacks{&MemoryReader::read, &MemoryReader::skip, &MemoryReader::eof};
};

std::string decoder_reason() {
  const char* reason = stbi_failure_reason();
  if (reason == nullptr || *reason == '\0') return "corrupt data";
  if (std::strcmp(reason, "unknown image type") == 0) return "corrupt or unsupported header";
  return text::printable(reason);  // may quote bytes of the file, e.g. a PNG chunk's name
}

GrayImage to_gray(const stbi_uc* bytes, int width, int height, int channels) {
  GrayImage image(width, height);
  const auto n = static_cast<size_t>(width) * static_cast<size_t>(height);
  const auto c = static_cast<size_t>(channels);
  for (size_t i = 0; i < n; ++i) {
    const stbi_uc* p = bytes + i * c;
    float value = 0;
    float alpha = 1;
    switch (channels) {
      case 1: value = p[0] / 255.0f; break;
      case 2:
        value = p[0] / 255.0f;
        alpha = p[1] / 255.0f;
        break;
      case 3: value = luma(p[0], p[1], p[2]) / 255.0f; break;
      default:
        value = luma(p[0], p[1], p[2]) / 255.0f;
        alpha = p[3] / 255.0f;
        break;
    }
    image.pixels[i] = alpha * value + (1.0f - alpha);  // composited on white paper
  }
  return image;
}

// Dimensions from the header first (the pixel cap), then the pixels; `file` is already printable.
GrayImage decode_checked(const std::vector<std::uint8_t>& bytes, const std::string& file,
                         const std::string& format_name) {
  int width = 0, height = 0, channels = 0;
  MemoryReader header{&bytes};
  if (stbi_info_from_callbacks(&MemoryReader::kCallbacks, &header, &width, &height, &channels) == 0) {
    throw ImageError(file + ": cannot decode " + format_name + " image: " + decoder_reason());
  }
  if (static_cast<long long>(width) * static_cast<long long>(height) > kMaxPixels) {
    throw ImageError(file + ": image too large (" + std::to_string(width) + "x" + std::to_string(height) + " = " +
                     std::to_string(static_cast<long long>(width) * height) + " pixels, at most " +
                     std::to_string(kMaxPixels) + ", e.g. 4096x4096); scale it down first");
  }
  MemoryReader reader{&bytes};
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_callbacks(&MemoryReader::kCallbacks, &reader, &width, &height, &channels, 0), stbi_image_free);
  if (!data) throw ImageError(file + ": cannot decode " + format_name + " image: " + decoder_reason());
  if (reader.ran_past_end) {
    throw ImageError(file + ": truncated " + format_name + ": " + std::to_string(bytes.size()) +
                     " bytes, and the decoder needed more");
  }
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4) {
    throw ImageError(file + ": unsupported image layout (" + std::to_string(channels) + " channels)");
  }
  return to_gray(data.get(), width, height, channels);
}

std::string lower_extension(const std::string& path) {
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

}  // namespace

GrayImage read_image(const std::string& path) {
  std::string file;
  try {
    file = files::read_input(path, files::InputKind::kImage, kMaxFileBytes);  // once, and only a regular file
  } catch (const files::FileError& e) {
    throw ImageError(text::printable(e.what()));
  }
  const std::vector<std::uint8_t> bytes(file.begin(), file.end());
  return decode_image(bytes, path);
}

GrayImage decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  using image_format::Format;
  const std::string file = text::printable(name);
  if (bytes.empty()) throw ImageError(file + ": cannot decode image: the file is empty");
  const Format format = image_format::detect(bytes.data(), bytes.size());
  if (format == Format::kUnknown) {
    throw ImageError(file + ": cannot decode image: unknown format (it starts with " + first_bytes(bytes) +
                     "); expected " + kSupportedFormats);
  }
  const std::string format_name = image_format::name(format);
  const std::string unsupported = image_format::unsupported_variant(format, bytes.data(), bytes.size());
  if (!unsupported.empty()) throw ImageError(file + ": " + unsupported + "; expected " + kSupportedFormats);
  const auto extent = image_format::required_size(format, bytes.data(), bytes.size());
  if (extent.needed > bytes.size()) {
    throw ImageError(file + ": truncated " + format_name + ": " + std::to_string(bytes.size()) + " bytes, " +
                     (extent.exact ? "header promises " : "its structure needs at least ") +
                     std::to_string(extent.needed));
  }
  return decode_checked(bytes, file, format_name);
}

std::string encode_image(const GrayImage& image, const std::string& extension) {
  std::vector<std::uint8_t> bytes(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), bytes.begin(),
                 [](float v) { return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)); });
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
    throw ImageError(text::printable(path) + ": " + e.what());
  } catch (const files::FileError& e) {
    throw ImageError(e.what());
  }
}

}  // namespace lenet5::deploy
