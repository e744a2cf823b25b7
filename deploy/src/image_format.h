// What a picture file's own structure says about it, before any pixel is decoded: which format it is and how
// many bytes it must hold. stb_image pads short data with zeros instead of failing for several formats, so
// truncation is judged here. Internal to lenet5_image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lenet5::deploy::image_format {

enum class Format { kUnknown, kPng, kJpeg, kBmp, kGif, kPnm, kTga };

// "PNG", "JPEG", "BMP", "GIF", "PGM/PPM", "TGA".
std::string name(Format format);

// By signature (TGA, which has none, by a consistent header). kUnknown when nothing matches.
Format detect(const std::uint8_t* data, size_t size);

// Empty when the format's variant is decodable; otherwise why not (ASCII or 1-bit PNM, PAM).
std::string unsupported_variant(Format format, const std::uint8_t* data, size_t size);

struct Extent {
  std::uint64_t needed = 0;  // bytes the structure calls for; 0 when the header is too damaged to say
  bool exact = true;         // false: a lower bound (the data stops inside a part whose end is not known)
};

// PGM/PPM, uncompressed BMP and TGA: header + pixel data; RLE TGA, PNG, GIF: their packets, chunks and blocks
// walked to the end; JPEG: its segments and scans walked to the end-of-image marker.
Extent required_size(Format format, const std::uint8_t* data, size_t size);

}  // namespace lenet5::deploy::image_format
