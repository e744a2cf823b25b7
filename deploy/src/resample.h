// Resampling and neighbourhood filters on grayscale pictures (internal to lenet5_image).
#pragma once

#include "lenet5/deploy/image.h"

namespace lenet5::deploy {

// width x height pixels: the covered area's average when shrinking, bilinear between pixel centres when
// enlarging; values clamped to [0,1].
GrayImage resize(const GrayImage& image, int width, int height);

// Each pixel becomes the maximum (or minimum) of the (2 radius + 1)^2 square around it, clipped to the picture.
GrayImage max_filter(const GrayImage& image, int radius);
GrayImage min_filter(const GrayImage& image, int radius);

}  // namespace lenet5::deploy
