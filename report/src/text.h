// Small text helpers shared by the SVG and HTML writers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lenet5::report::text {

// Escapes &, <, >, " and ' so the result is safe in XML/HTML text and attribute values.
std::string escape(const std::string& raw);
// A number with at most `decimals` decimals, trailing zeros dropped ("0.5", "12", "-3.25").
std::string number(double value, int decimals = 2);
// printf-style "%.Nf".
std::string fixed(double value, int decimals);
std::string with_commas(int64_t value);
// "1 h 02 min", "3 min 05 s", "12.3 s".
std::string duration(double seconds);
std::string base64(const std::vector<std::uint8_t>& bytes);  // lenet5::text::base64 of the bytes
// A BMP (stb_image_write: 24-bit, grey) of `rows` x `columns` pixels, row-major top row first; ink (high
// values) drawn dark. Empty when stb cannot encode it.
std::vector<std::uint8_t> greyscale_bmp(const std::uint8_t* pixels, int rows, int columns);

}  // namespace lenet5::report::text
