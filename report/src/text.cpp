#include "text.h"

#include <cmath>
#include <cstdio>

namespace lenet5::report::text {

std::string escape(const std::string& raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return std::isnan(value) ? "n/a" : (value > 0 ? "inf" : "-inf");
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string number(double value, int decimals) {
  std::string s = fixed(value, decimals);
  if (s.find('.') != std::string::npos && std::isfinite(value)) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string with_commas(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return value < 0 ? "-" + digits : digits;
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "n/a";
  char buffer[64];
  const auto whole = static_cast<int64_t>(std::llround(seconds));
  if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  } else if (whole < 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld min %02lld s", static_cast<long long>(whole / 60),
                  static_cast<long long>(whole % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld h %02lld min", static_cast<long long>(whole / 3600),
                  static_cast<long long>(whole % 3600 / 60));
  }
  return buffer;
}

std::string base64(const std::vector<std::uint8_t>& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = bytes[i];
    const uint32_t b1 = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    const uint32_t b2 = i + 2 < bytes.size() ? bytes[i + 2] : 0;
    const uint32_t triple = b0 << 16 | b1 << 8 | b2;
    out += alphabet[triple >> 18 & 63];
    out += alphabet[triple >> 12 & 63];
    out += i + 1 < bytes.size() ? alphabet[triple >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[triple & 63] : '=';
  }
  return out;
}

std::vector<std::uint8_t> greyscale_bmp(const std::uint8_t* pixels, int rows, int columns) {
  const uint32_t stride = (static_cast<uint32_t>(columns) + 3) / 4 * 4;
  const uint32_t palette_bytes = 256 * 4;
  const uint32_t offset = 14 + 40 + palette_bytes;
  const uint32_t size = offset + stride * static_cast<uint32_t>(rows);
  std::vector<std::uint8_t> bmp;
  bmp.reserve(size);
  auto put16 = [&](uint32_t v) {
    bmp.push_back(static_cast<std::uint8_t>(v));
    bmp.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  auto put32 = [&](uint32_t v) {
    put16(v & 0xffff);
    put16(v >> 16);
  };
  bmp.push_back('B');
  bmp.push_back('M');
  put32(size);
  put32(0);
  put32(offset);
  put32(40);  // BITMAPINFOHEADER
  put32(static_cast<uint32_t>(columns));
  put32(static_cast<uint32_t>(rows));  // positive: rows stored bottom-up
  put16(1);
  put16(8);
  put32(0);  // uncompressed
  put32(stride * static_cast<uint32_t>(rows));
  put32(2835);
  put32(2835);
  put32(256);
  put32(0);
  for (uint32_t i = 0; i < 256; ++i) {  // index = ink, shown dark on white
    const auto grey = static_cast<std::uint8_t>(255 - i);
    bmp.insert(bmp.end(), {grey, grey, grey, 0});
  }
  for (int r = rows - 1; r >= 0; --r) {
    const std::uint8_t* row = pixels + static_cast<size_t>(r) * static_cast<size_t>(columns);
    bmp.insert(bmp.end(), row, row + columns);
    bmp.insert(bmp.end(), stride - static_cast<uint32_t>(columns), 0);
  }
  return bmp;
}

}  // namespace lenet5::report::text
