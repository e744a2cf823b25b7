// Reading digits from messy pictures (torch-free): real MNIST test digits drawn on paper under a shadow or a
// gradient, beside a speck of dust, in faint ink, or side by side as a number, give the views of the same
// digits drawn cleanly. (That the exported model reads them is checked through `lenet5 predict` in
// deploy_cli_test.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "lenet5/data/idx.h"
#include "lenet5/deploy/image.h"
#include "test_files.h"

namespace {

using lenet5::deploy::DigitView;
using lenet5::deploy::GrayImage;
using lenet5::deploy::read_digits;

class DeployDigits : public ::testing::Test {
 protected:
  void SetUp() override {
    LENET5_REQUIRE_MNIST();
    const std::string dir = lenet5::testing::mnist_dir();
    auto path = [&](const std::string& name) {
      const std::string raw = dir + "/" + name;
      return std::ifstream(raw).good() ? raw : raw + ".gz";
    };
    images_ = lenet5::data::read_idx_file(path("t10k-images-idx3-ubyte"), lenet5::data::IdxKind::kImages);
    labels_ = lenet5::data::read_idx_file(path("t10k-labels-idx1-ubyte"), lenet5::data::IdxKind::kLabels);
  }

  // The i-th test digit, ink high.
  GrayImage digit(size_t i) const {
    GrayImage image(28, 28);
    for (size_t p = 0; p < 28 * 28; ++p) image.pixels[p] = images_.values[i * 28 * 28 + p] / 255.0f;
    return image;
  }
  // The first test digit with this label.
  size_t first_with_label(int label) const {
    size_t i = 0;
    while (labels_.values[i] != label) ++i;
    return i;
  }

  lenet5::data::IdxArray images_, labels_;
};

// Digits (ink high) drawn `scale` times larger at (x, y) on paper: reflectance `paper` where there is no ink,
// `ink` under full ink, lit by `light(x, y)`.
struct Drawing {
  int width = 200, height = 160;
  int scale = 4;
  float paper = 0.95f, ink = 0.1f;
  std::function<float(int, int)> light = [](int, int) { return 1.0f; };
};

GrayImage draw(const Drawing& drawing, const std::vector<std::pair<GrayImage, std::pair<int, int>>>& digits) {
  GrayImage reflectance(drawing.width, drawing.height, drawing.paper);
  for (const auto& [digit, at] : digits) {
    for (int y = 0; y < 28 * drawing.scale; ++y) {
      for (int x = 0; x < 28 * drawing.scale; ++x) {
        const float level = digit.at(x / drawing.scale, y / drawing.scale);
        float& r = reflectance.at(at.first + x, at.second + y);
        r = std::min(r, drawing.paper + level * (drawing.ink - drawing.paper));
      }
    }
  }
  for (int y = 0; y < drawing.height; ++y) {
    for (int x = 0; x < drawing.width; ++x) reflectance.at(x, y) *= drawing.light(x, y);
  }
  return reflectance;
}

float max_difference(const GrayImage& a, const GrayImage& b) {
  float largest = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) largest = std::max(largest, std::abs(a.pixels[i] - b.pixels[i]));
  return largest;
}

// The correlation of two views, the second moved by (dx, dy) pixels.
double correlation(const GrayImage& a, const GrayImage& b, int dx = 0, int dy = 0) {
  std::vector<double> x, y;
  for (int row = 0; row < a.height; ++row) {
    for (int column = 0; column < a.width; ++column) {
      const int bx = column - dx, by = row - dy;
      const bool inside = bx >= 0 && bx < b.width && by >= 0 && by < b.height;
      x.push_back(a.at(column, row));
      y.push_back(inside ? b.at(bx, by) : 0.0);
    }
  }
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double xy = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < x.size(); ++i)
    xy += (x[i] - mx) * (y[i] - my), xx += (x[i] - mx) * (x[i] - mx), yy += (y[i] - my) * (y[i] - my);
  return xy / std::sqrt(xx * yy);
}

// The same digit up to the centring's rounding: the best correlation over moves of at most one pixel.
double similarity(const GrayImage& a, const GrayImage& b) {
  double best = -1;
  for (int dy = -1; dy <= 1; ++dy) {
    for (int dx = -1; dx <= 1; ++dx) best = std::max(best, correlation(a, b, dx, dy));
  }
  return best;
}

DigitView only_digit(const GrayImage& picture) {
  const auto digits = read_digits(picture);
  EXPECT_EQ(digits.size(), 1u);
  return digits.empty() ? DigitView{} : digits.front();
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const lenet5::deploy::ImageError& e) {
    return e.what();
  }
  return "no error";
}

// A shadow across half the page with a soft edge, or light falling off from one side: the dark paper is not
// ink, and the digit's view is the one it has in even light.
TEST_F(DeployDigits, ShadowsAndGradientsAreNotInk) {
  const std::vector<std::pair<std::string, std::function<float(int, int)>>> lights = {
      {"shadow",
       [](int x, int y) { return x + y < 190   ? 1.0f
                                 : x + y > 230 ? 0.3f
                                               : 1.0f - 0.7f * (x + y - 190) / 40.0f; }},
      {"gradient", [](int x, int) { return 1.0f - 0.7f * static_cast<float>(x) / 200.0f; }},
      {"spotlight",
       [](int x, int y) { return 1.0f - 0.6f * std::min(1.0f, std::hypot(x - 20.0f, y - 20.0f) / 180.0f); }},
  };
  for (size_t i = 0; i < 10; ++i) {
    const std::vector<std::pair<GrayImage, std::pair<int, int>>> page = {{digit(i), {40, 20}}};
    const DigitView clean = only_digit(draw(Drawing{}, page));
    for (const auto& [name, light] : lights) {
      Drawing lit;
      lit.light = light;
      const DigitView seen = only_digit(draw(lit, page));
      EXPECT_GT(similarity(seen.view, clean.view), 0.95) << name << ", test digit " << i;
      EXPECT_NEAR(seen.x, clean.x, 2) << name << ", test digit " << i;
      EXPECT_NEAR(seen.width, clean.width, 4) << name << ", test digit " << i;
    }
  }
}

// A dark speck far from the digit neither stretches the crop nor becomes a digit of its own.
TEST_F(DeployDigits, ASpeckOfDustDoesNotMoveTheCrop) {
  for (size_t i = 0; i < 10; ++i) {
    GrayImage picture = draw(Drawing{}, {{digit(i), {40, 20}}});
    const DigitView clean = only_digit(picture);
    for (int y = 150; y < 155; ++y) {
      for (int x = 185; x < 190; ++x) picture.at(x, y) = 0.05f;
    }
    const DigitView dusty = only_digit(picture);
    EXPECT_LT(max_difference(dusty.view, clean.view), 1e-6) << "test digit " << i;
    EXPECT_EQ(dusty.width, clean.width);
    EXPECT_EQ(dusty.height, clean.height);
    const auto whole = lenet5::deploy::preprocess(picture);
    EXPECT_LT(max_difference(whole, clean.view), 1e-6) << "preprocess, test digit " << i;
  }
}

// Ink only 0.08 darker than grey paper is ink; a flat or smoothly shaded picture with no mark is still blank.
TEST_F(DeployDigits, FaintInkIsFoundAndBlankPicturesStayBlank) {
  for (size_t i = 0; i < 10; ++i) {
    const std::vector<std::pair<GrayImage, std::pair<int, int>>> page = {{digit(i), {40, 20}}};
    Drawing faint;
    faint.paper = 0.9f, faint.ink = 0.82f;
    EXPECT_GT(similarity(only_digit(draw(faint, page)).view, only_digit(draw(Drawing{}, page)).view), 0.95)
        << "test digit " << i;
  }
  Drawing shaded;
  shaded.light = [](int x, int y) { return 1.0f - 0.6f * static_cast<float>(x + y) / 360.0f; };
  for (const auto& blank : {GrayImage(120, 90, 0.7f), GrayImage(120, 90, 0.0f), draw(shaded, {})}) {
    EXPECT_THAT(error_of([&] { read_digits(blank); }), ::testing::HasSubstr("no digit found"));
    EXPECT_THAT(error_of([&] { lenet5::deploy::preprocess(blank); }), ::testing::HasSubstr("no digit found"));
  }
}

// "42" written as two MNIST digits, the 4 broken in two by a gap: two views, left to right, each the view of
// that digit alone on the page; without splitting (Fashion-MNIST's options), one view.
TEST_F(DeployDigits, DigitsSideBySideAreReadLeftToRight) {
  GrayImage four = digit(first_with_label(4));
  for (int x = 0; x < 28; ++x) four.at(x, 14) = four.at(x, 15) = 0.0f;
  const GrayImage two = digit(first_with_label(2));
  Drawing wide;
  wide.width = 300;
  const auto number = read_digits(draw(wide, {{four, {20, 20}}, {two, {150, 30}}}));
  ASSERT_EQ(number.size(), 2u);
  const DigitView alone_four = only_digit(draw(wide, {{four, {20, 20}}}));
  const DigitView alone_two = only_digit(draw(wide, {{two, {150, 30}}}));
  EXPECT_LT(max_difference(number[0].view, alone_four.view), 1e-6);
  EXPECT_LT(max_difference(number[1].view, alone_two.view), 1e-6);
  for (const auto& [seen, alone] : {std::pair{number[0], alone_four}, std::pair{number[1], alone_two}}) {
    EXPECT_EQ(seen.x, alone.x);
    EXPECT_EQ(seen.y, alone.y);
    EXPECT_EQ(seen.width, alone.width);
    EXPECT_EQ(seen.height, alone.height);
  }
  EXPECT_LT(number[0].x + number[0].width, number[1].x);
  EXPECT_GE(number[0].x, 20);
  EXPECT_LE(number[0].x + number[0].width, 20 + 112);
  EXPECT_GE(number[1].y, 30);

  // Under a shadow over most of the page's border (its median is dark paper, not ink).
  Drawing shaded = wide;
  shaded.light = [](int x, int y) {
    return x + y < 190 ? 1.0f : x + y > 230 ? 0.3f : 1.0f - 0.7f * (x + y - 190) / 40.0f;
  };
  const auto in_shadow = read_digits(draw(shaded, {{four, {20, 20}}, {two, {150, 30}}}));
  ASSERT_EQ(in_shadow.size(), 2u);
  EXPECT_GT(similarity(in_shadow[0].view, alone_four.view), 0.95);
  EXPECT_GT(similarity(in_shadow[1].view, alone_two.view), 0.95);

  auto whole = lenet5::deploy::preprocess_options_for(lenet5::data::DatasetKind::kFashionMnist);
  EXPECT_EQ(read_digits(draw(wide, {{four, {20, 20}}, {two, {150, 30}}}), whole).size(), 1u);
}

// A row of 40 bars is not a number: one line, not 40 predictions.
TEST(DeployDigitsLimits, MoreThan32MarksAreRefused) {
  GrayImage picture(800, 100, 1.0f);
  for (int bar = 0; bar < 40; ++bar) {
    for (int y = 20; y < 80; ++y) {
      for (int x = 10 + 19 * bar; x < 16 + 19 * bar; ++x) picture.at(x, y) = 0.0f;
    }
  }
  EXPECT_EQ(error_of([&] { read_digits(picture); }), "no number found: 40 separate marks (at most 32 digits are read)");
  GrayImage fewer = picture;
  for (int y = 0; y < 100; ++y) {
    for (int x = 10 + 19 * 32; x < 800; ++x) fewer.at(x, y) = 1.0f;
  }
  EXPECT_EQ(read_digits(fewer).size(), 32u);
  EXPECT_EQ(lenet5::deploy::preprocess(picture).width, 28) << "one view of everything";
}

// Pictures larger than the working size are read shrunk; boxes are still in the picture's own pixels.
TEST_F(DeployDigits, BoxesAreInThePicturesPixels) {
  Drawing large;
  large.width = 2400, large.height = 900, large.scale = 16;
  const auto number = read_digits(draw(large, {{digit(0), {100, 300}}, {digit(1), {1500, 200}}}));
  ASSERT_EQ(number.size(), 2u);
  const DigitView small_first = only_digit(draw(Drawing{}, {{digit(0), {40, 20}}}));
  for (size_t d = 0; d < 2; ++d)
    EXPECT_GT(similarity(number[d].view, only_digit(draw(Drawing{}, {{digit(d), {40, 20}}})).view), 0.9);
  // The drawn digit's ink box, scaled 16 times (4 times the small one's, drawn at scale 4).
  EXPECT_NEAR(number[0].x, 100 + 4 * (small_first.x - 40), 4);
  EXPECT_NEAR(number[0].y, 300 + 4 * (small_first.y - 20), 4);
  EXPECT_NEAR(number[0].width, 4 * small_first.width, 8);
  EXPECT_NEAR(number[0].height, 4 * small_first.height, 8);
}

}  // namespace
