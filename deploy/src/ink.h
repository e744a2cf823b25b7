// Where the ink of a picture is: the paper's own brightness (shadows, gradients) taken out, ink high on a zero
// background (internal to lenet5_image).
#pragma once

#include "lenet5/deploy/image.h"

namespace lenet5::deploy {

struct InkMap {
  GrayImage ink;          // >= 0: how much darker (lighter, on a dark background) than the paper around it
  float noise_floor = 0;  // below this a pixel is paper (its noise included)
  float background = 0;   // the ink level of plain paper (the median pixel)
  double scale_x = 1.0;   // source pixels per pixel of `ink` (pictures are worked on at most
  double scale_y = 1.0;   // kWorkingSide pixels on their longer side)
};

// `flatten_background`: estimate the paper's brightness around every pixel (a morphological closing larger
// than any stroke) and measure ink against it, relative to it on light paper (reflectance: a shadow dims ink
// and paper alike); otherwise against one level, the median of the border.
InkMap find_ink(const GrayImage& image, bool flatten_background);

}  // namespace lenet5::deploy
