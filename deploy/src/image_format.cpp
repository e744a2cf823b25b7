#include "image_format.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace lenet5::deploy::image_format {
namespace {

using Bytes = const std::uint8_t*;

std::uint32_t le16(Bytes p) { return static_cast<std::uint32_t>(p[0] | p[1] << 8); }
std::uint32_t le32(Bytes p) { return le16(p) | le16(p + 2) << 16; }
std::uint32_t be16(Bytes p) { return static_cast<std::uint32_t>(p[0] << 8 | p[1]); }
std::uint32_t be32(Bytes p) { return be16(p) << 16 | be16(p + 2); }

bool starts_with(Bytes data, size_t size, const char* magic, size_t length) {
  return size >= length && std::memcmp(data, magic, length) == 0;
}

// The walk ran off the end at `position`: at least one more byte is needed.
Extent runs_past(std::uint64_t position, size_t size) { return {std::max<std::uint64_t>(position, size + 1), false}; }

bool is_tga_header(Bytes d, size_t size) {
  if (size < 18) return false;
  const unsigned colormap = d[1], type = d[2], bpp = d[16];
  if (le16(d + 12) == 0 || le16(d + 14) == 0) return false;
  if (colormap == 1) {
    const unsigned entry_bits = d[7];
    return (type == 1 || type == 9) && (bpp == 8 || bpp == 16) &&
           (entry_bits == 8 || entry_bits == 15 || entry_bits == 16 || entry_bits == 24 || entry_bits == 32);
  }
  return colormap == 0 && (type == 2 || type == 3 || type == 10 || type == 11) &&
         (bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 || bpp == 32);
}

Extent png_size(Bytes d, size_t size) {
  std::uint64_t position = 8;
  while (true) {
    if (position + 8 > size) return {position + 12, false};
    const std::uint64_t end = position + 12 + be32(d + position);
    if (end > size || std::memcmp(d + position + 4, "IEND", 4) == 0) return {end, true};
    position = end;
  }
}

Extent jpeg_size(Bytes d, size_t size) {
  std::uint64_t position = 2;
  while (true) {
    while (position + 1 < size && d[position] == 0xFF && d[position + 1] == 0xFF) ++position;  // fill bytes
    if (position + 2 > size) return runs_past(position + 2, size);
    if (d[position] != 0xFF) return {0, true};  // not a marker: corrupt, left to the decoder
    const unsigned marker = d[position + 1];
    if (marker == 0xD9) return {position + 2, true};
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
      position += 2;
      continue;
    }
    if (position + 4 > size) return runs_past(position + 4, size);
    position += 2 + be16(d + position + 2);
    if (position > size) return {position, true};
    if (marker != 0xDA) continue;
    // Entropy-coded data: ends at the first marker that is neither a stuffed zero nor a restart marker.
    while (position + 1 < size && !(d[position] == 0xFF && d[position + 1] != 0 && d[position + 1] != 0xFF &&
                                    (d[position + 1] < 0xD0 || d[position + 1] > 0xD7))) {
      ++position;
    }
    if (position + 1 >= size) return runs_past(size + 2, size);  // at least an end-of-image marker
  }
}

// Skips GIF data sub-blocks (a length byte, then that many bytes) up to the zero-length terminator.
bool skip_sub_blocks(Bytes d, size_t size, std::uint64_t& position) {
  while (position < size) {
    const unsigned length = d[position];
    position += 1 + length;
    if (length == 0) return true;
  }
  return false;
}

Extent gif_size(Bytes d, size_t size) {
  if (size < 13) return {13, false};
  std::uint64_t position = 13;
  if (d[10] & 0x80) position += 3u * (2u << (d[10] & 7));  // global colour table
  while (true) {
    if (position >= size) return runs_past(position + 1, size);
    const unsigned block = d[position];
    if (block == 0x3B) return {position + 1, true};  // trailer
    if (block == 0x21) {                             // extension: label, sub-blocks
      position += 2;
    } else if (block == 0x2C) {  // image descriptor, local colour table, LZW code size, sub-blocks
      if (position + 10 > size) return runs_past(position + 10, size);
      const unsigned flags = d[position + 9];
      position += 10 + ((flags & 0x80) ? 3u * (2u << (flags & 7)) : 0u) + 1;
    } else {
      return {0, true};  // corrupt, left to the decoder
    }
    if (!skip_sub_blocks(d, size, position)) return runs_past(position, size);
  }
}

Extent bmp_size(Bytes d, size_t size) {
  if (size < 30) return {30, false};
  const std::uint64_t offset = le32(d + 10), header_end = 14 + static_cast<std::uint64_t>(le32(d + 14));
  std::int64_t width = 0, height = 0;
  std::uint32_t bpp = 0, compression = 0;
  if (le32(d + 14) == 12) {
    width = le16(d + 18), height = le16(d + 20), bpp = le16(d + 24);
  } else {
    if (size < 34) return {34, false};
    width = static_cast<std::int32_t>(le32(d + 18)), height = static_cast<std::int32_t>(le32(d + 22));
    bpp = le16(d + 28), compression = le32(d + 30);
  }
  const bool uncompressed = compression == 0 || compression == 3 || compression == 6;
  if (!uncompressed || width <= 0 || height == 0 || bpp == 0 || bpp > 32) return {header_end, true};
  const std::uint64_t rows = static_cast<std::uint64_t>(height < 0 ? -height : height);
  const std::uint64_t row_bits = static_cast<std::uint64_t>(width) * bpp;
  const std::uint64_t stride = (row_bits + 31) / 32 * 4;
  // Every row but the last padded to 4 bytes; the last one's padding is never read.
  return {std::max(offset, header_end) + stride * (rows - 1) + (row_bits + 7) / 8, true};
}

Extent tga_size(Bytes d, size_t size) {
  const unsigned type = d[2], bytes_per_pixel = (d[16] + 7u) / 8u;
  std::uint64_t position = 18 + static_cast<std::uint64_t>(d[0]);
  if (d[1] == 1) position += le16(d + 3) + static_cast<std::uint64_t>(le16(d + 5)) * ((d[7] + 7u) / 8u);
  const std::uint64_t pixels = static_cast<std::uint64_t>(le16(d + 12)) * le16(d + 14);
  if (type < 8) return {position + pixels * bytes_per_pixel, true};
  for (std::uint64_t done = 0; done < pixels;) {  // run-length packets
    if (position >= size) return runs_past(position + 1, size);
    const unsigned packet = d[position++];
    const unsigned count = (packet & 0x7F) + 1;
    position += (packet & 0x80) ? bytes_per_pixel : count * bytes_per_pixel;
    done += count;
  }
  return {position, true};
}

// Header of a binary PGM/PPM: "P5" or "P6", width, height, maxval (comments allowed), one whitespace byte.
Extent pnm_size(Bytes d, size_t size) {
  size_t position = 2;
  std::uint64_t numbers[3] = {0, 0, 0};
  for (auto& number : numbers) {
    while (position < size && (std::isspace(d[position]) || d[position] == '#')) {
      if (d[position] == '#') {
        while (position < size && d[position] != '\n' && d[position] != '\r') ++position;
      } else {
        ++position;
      }
    }
    if (position >= size) return runs_past(position + 1, size);
    if (!std::isdigit(d[position])) return {0, true};  // corrupt, left to the decoder
    while (position < size && std::isdigit(d[position]) && number < (1u << 30))
      number = number * 10 + (d[position++] - '0');
  }
  if (position >= size) return runs_past(position + 1, size);
  const std::uint64_t channels = d[1] == '6' ? 3 : 1, sample_bytes = numbers[2] > 255 ? 2 : 1;
  return {position + 1 + numbers[0] * numbers[1] * channels * sample_bytes, true};
}

}  // namespace

std::string name(Format format) {
  switch (format) {
    case Format::kPng: return "PNG";
    case Format::kJpeg: return "JPEG";
    case Format::kBmp: return "BMP";
    case Format::kGif: return "GIF";
    case Format::kPnm: return "PGM/PPM";
    case Format::kTga: return "TGA";
    case Format::kUnknown: break;
  }
  return "unknown";
}

Format detect(const std::uint8_t* data, size_t size) {
  if (starts_with(data, size, "\x89PNG", 4)) return Format::kPng;
  if (starts_with(data, size, "\xFF\xD8", 2)) return Format::kJpeg;
  if (starts_with(data, size, "GIF8", 4)) return Format::kGif;
  if (starts_with(data, size, "BM", 2)) return Format::kBmp;
  if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7') return Format::kPnm;
  if (is_tga_header(data, size)) return Format::kTga;
  return Format::kUnknown;
}

std::string unsupported_variant(Format format, const std::uint8_t* data, size_t size) {
  if (format != Format::kPnm || size < 2) return "";
  switch (data[1]) {
    case '1': return "plain (ASCII) PBM 'P1' is not supported";
    case '2': return "plain (ASCII) PGM 'P2' is not supported";
    case '3': return "plain (ASCII) PPM 'P3' is not supported";
    case '4': return "1-bit PBM 'P4' is not supported";
    case '7': return "PAM 'P7' is not supported";
    default: return "";
  }
}

Extent required_size(Format format, const std::uint8_t* data, size_t size) {
  switch (format) {
    case Format::kPng: return png_size(data, size);
    case Format::kJpeg: return jpeg_size(data, size);
    case Format::kBmp: return bmp_size(data, size);
    case Format::kGif: return gif_size(data, size);
    case Format::kPnm: return pnm_size(data, size);
    case Format::kTga: return tga_size(data, size);
    case Format::kUnknown: break;
  }
  return {0, true};
}

}  // namespace lenet5::deploy::image_format
