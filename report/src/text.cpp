#include "text.h"

#include "lenet5/text/base64.h"

#include <stb_image_write.h>

#include <algorithm>
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
  return lenet5::text::base64(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::vector<std::uint8_t> greyscale_bmp(const std::uint8_t* pixels, int rows, int columns) {
  std::vector<std::uint8_t> dark_ink(static_cast<size_t>(rows) * static_cast<size_t>(columns));
  std::transform(pixels, pixels + dark_ink.size(), dark_ink.begin(),
                 [](std::uint8_t ink) { return static_cast<std::uint8_t>(255 - ink); });
  std::vector<std::uint8_t> bmp;
  auto append = [](void* out, void* data, int size) {
    auto& bytes = *static_cast<std::vector<std::uint8_t>*>(out);
    bytes.insert(bytes.end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
  };
  if (stbi_write_bmp_to_func(append, &bmp, columns, rows, 1, dark_ink.data()) == 0) bmp.clear();
  return bmp;
}

}  // namespace lenet5::report::text
