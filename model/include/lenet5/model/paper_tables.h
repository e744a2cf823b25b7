// The numbers of LeCun et al. (1998) that define the classic network: its squashing function, input mapping,
// initialisation rule, C3 connection table and the digit bitmaps of its RBF output. Torch-free: the report
// draws the table from here too.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace lenet5::model {

// The squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (appendix A).
constexpr double kSquashAmplitude = 1.7159;
constexpr double kSquashSlope = 2.0 / 3.0;

// The input mapping: 28x28 digits centred in a 32x32 field, background -0.1, ink 1.175.
constexpr int64_t kPaperPadding = 2;
constexpr double kClassicBackground = -0.1;
constexpr double kClassicInkRange = 1.275;

// The initialisation: uniform in [-2.4/F, 2.4/F], F the fan-in of the unit (appendix A).
constexpr double kInitNumerator = 2.4;
constexpr double paper_init_bound(double fan_in) { return kInitNumerator / fan_in; }

// Which S2 maps feed each C3 map (table I).
const std::vector<std::vector<int64_t>>& c3_connection_table();

// The stylised 7-wide, 12-high digits the RBF output compares F6 with: row r of digit d is
// rbf_digit_bitmaps()[d][r], '#' standing for +1 and '.' for -1.
constexpr int kBitmapRows = 12;
constexpr int kBitmapColumns = 7;
using DigitBitmap = std::array<const char*, kBitmapRows>;
const std::array<DigitBitmap, 10>& rbf_digit_bitmaps();

}  // namespace lenet5::model
