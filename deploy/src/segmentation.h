// The marks of an ink map: connected components, specks dropped, grouped into digits side by side (internal
// to lenet5_image).
#pragma once

#include <vector>

#include "ink.h"

namespace lenet5::deploy {

// One digit: its ink in the box around its pixels above `ink_threshold` of its peak.
struct InkRegion {
  GrayImage crop;  // the ink map's pixels in [0,1] (1: the digit's peak); other digits' ink is 0
  int x = 0, y = 0, width = 0, height = 0;  // the box in the source picture's pixels
};

// Marks are the 8-connected components above the noise floor whose ink stands out by kMinContrast. Those of at
// least 5% of the largest one's pixels or 40% of the tallest one's height (not a speck of dust) form digits: with
// `split`, components that overlap horizontally by half the narrower one's width make one digit (the pieces of a broken
// stroke, the two strokes of a 4), returned left to right; without it, one digit of all of them. A smaller mark joins
// the digit whose box holds its centre and is dropped elsewhere. Throws ImageError when no mark is found.
std::vector<InkRegion> find_digits(const InkMap& map, float ink_threshold, bool split);

}  // namespace lenet5::deploy
