// Turning pictures of digits into what the network was trained on, the way MNIST was made: grayscale,
// ink high on a zero background, the digit scaled into a 20x20 box (aspect ratio kept, anti-aliased) and
// placed in a 28x28 field so that its centre of mass is at the centre. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lenet5/data/dataset_files.h"

namespace lenet5::deploy {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Grayscale pixels in [0,1], row-major.
struct GrayImage {
  int width = 0;
  int height = 0;
  std::vector<float> pixels;

  GrayImage() = default;
  GrayImage(int width_, int height_, float value = 0.0f)
      : width(width_), height(height_), pixels(static_cast<size_t>(width_) * static_cast<size_t>(height_), value) {}
  float& at(int x, int y) {
    return pixels[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)];
  }
  float at(int x, int y) const {
    return pixels[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)];
  }
};

// PNG, JPEG, BMP, GIF, TGA and binary PGM/PPM (P5/P6): colour becomes luma, transparency is composited on
// white. Throws ImageError naming the file when it is missing or cannot be decoded: an unknown format or an
// unsupported variant (ASCII PNM), truncated data (fewer bytes than the header, chunks or segments call
// for), a decoder error (the detected format named), or more than 4096x4096 pixels (refused from the header).
GrayImage read_image(const std::string& path);

// read_image on bytes already in memory; `name` (escaped for the terminal) starts every message.
GrayImage decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name);

// The bytes of an 8-bit grayscale file; `extension` is ".png" or ".pgm".
std::string encode_image(const GrayImage& image, const std::string& extension);
// Writes 8-bit grayscale atomically (lenet5_files); the format follows the extension, .png or .pgm.
void write_image(const std::string& path, const GrayImage& image);

struct PreprocessOptions {
  int side = 28;                   // output field
  int box = 20;                    // longest side of the digit after scaling
  bool center_of_mass = true;      // centre by centre of mass (MNIST); false: centre the bounding box
  float ink_threshold = 0.25f;     // fraction of a digit's peak ink that counts for its bounding box
  bool flatten_background = true;  // measure ink against the paper around it (shadows); false: one level
  bool split_digits = true;        // read_digits: marks side by side are separate digits
};

// MNIST: 20x20 box centred by mass; Fashion-MNIST (products resized to fill the field): 28x28 box, centred.
PreprocessOptions preprocess_options_for(data::DatasetKind dataset);

// The background (median of the border pixels) decides the polarity: a light background is inverted so that
// ink is high. The ink range is then stretched to [0,1], the digit cropped to the pixels above the threshold,
// scaled (area averaging when shrinking, bilinear when enlarging) and pasted into the field. Returns
// side x side pixels in [0,1]. Throws ImageError when the image holds no ink (a blank or flat picture).
GrayImage preprocess(const GrayImage& image, const PreprocessOptions& options = {});

// One digit of a picture: the side x side view the network reads, and the digit's box in the picture.
struct DigitView {
  GrayImage view;
  int x = 0, y = 0, width = 0, height = 0;
};

// Every digit of the picture, left to right, each preprocessed like `preprocess` into its own view. Throws
// ImageError when the picture holds no ink.
std::vector<DigitView> read_digits(const GrayImage& image, const PreprocessOptions& options = {});

// read_image + preprocess; errors name the file.
GrayImage load_digit(const std::string& path, const PreprocessOptions& options = {});
// read_image + read_digits; errors name the file.
std::vector<DigitView> load_digits(const std::string& path, const PreprocessOptions& options = {});

// Centre of mass (x, y) in pixel-index coordinates, weighted by pixel value; (-1, -1) for an all-zero image.
std::pair<double, double> center_of_mass(const GrayImage& image);

}  // namespace lenet5::deploy
