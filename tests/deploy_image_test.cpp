// Picture preprocessing for predict: real MNIST digits drawn as dark ink on white paper at another size and
// position come back as MNIST-like 28x28 inputs that an exported model classifies correctly; every decodable
// format and layout works; unreadable files name themselves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <functional>

#include "deploy_test_support.h"
#include "lenet5/deploy/export.h"
#include "lenet5/deploy/image.h"
#include "lenet5/deploy/predict.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using lenet5::deploy::GrayImage;
using lenet5::deploy::ImageError;

// A 28x28 MNIST digit (ink high) drawn `scale` times larger as dark ink on white paper, at (dx, dy).
GrayImage picture_of(const torch::Tensor& digit, int scale, int width, int height, int dx, int dy) {
  const auto pixels = digit.reshape({28, 28}).contiguous();
  const auto access = pixels.accessor<float, 2>();
  GrayImage paper(width, height, 1.0f);
  EXPECT_LE(dx + 28 * scale, width);
  EXPECT_LE(dy + 28 * scale, height);
  for (int y = 0; y < 28 * scale; ++y) {
    for (int x = 0; x < 28 * scale; ++x) paper.at(dx + x, dy + y) = 1.0f - access[y / scale][x / scale];
  }
  return paper;
}

// A ring, like a zero: ink high, on a side x side field.
GrayImage ring(int side) {
  GrayImage image(side, side);
  const double c = (side - 1) / 2.0;
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      const double r = std::hypot((x - c) / (0.30 * side), (y - c) / (0.42 * side));
      image.at(x, y) = r > 0.7 && r < 1.0 ? 1.0f : 0.0f;
    }
  }
  return image;
}

double correlation(const GrayImage& a, const GrayImage& b) {
  const auto ta = torch::tensor(a.pixels, torch::kFloat64), tb = torch::tensor(b.pixels, torch::kFloat64);
  const auto da = ta - ta.mean(), db = tb - tb.mean();
  return ((da * db).sum() / (da.norm() * db.norm())).item<double>();
}

// The brightest pixel in the four 4x4 corners, where a centred digit never reaches.
float max_in_corners(const GrayImage& image) {
  float peak = 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const bool corner = (x < 4 || x >= image.width - 4) && (y < 4 || y >= image.height - 4);
      if (corner) peak = std::max(peak, image.at(x, y));
    }
  }
  return peak;
}

float median(std::vector<float> values) {
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
  return values[values.size() / 2];
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ImageError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no error";
}

void write_rgba_png(const std::string& path, int width, int height, const std::function<std::array<uint8_t, 4>(int, int)>& pixel) {
  std::vector<uint8_t> bytes;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const auto p = pixel(x, y);
      bytes.insert(bytes.end(), p.begin(), p.end());
    }
  }
  ASSERT_NE(stbi_write_png(path.c_str(), width, height, 4, bytes.data(), width * 4), 0);
}

TEST(DeployImage, MnistDigitsDrawnOnPaperComeBackAndAreRecognised) {
  LENET5_REQUIRE_MNIST();
  auto net = lenet5::testing::quick_trained_model(lenet5::model::Variant::kModern);
  lenet5::testing::TempDir dir;
  lenet5::deploy::export_torchscript(net, {}, dir.file("model.pt"), false);
  auto model = lenet5::deploy::load_exported(dir.file("model.pt"));

  const lenet5::data::MnistDataset test(lenet5::testing::mnist_dir(), lenet5::data::Split::kTest);
  constexpr int kDigits = 20;
  std::vector<GrayImage> originals, preprocessed;
  std::vector<int64_t> labels;
  for (int i = 0; i < kDigits; ++i) {
    const auto digit = test.images()[i];
    GrayImage original(28, 28);
    std::copy(digit.data_ptr<float>(), digit.data_ptr<float>() + 28 * 28, original.pixels.begin());
    const int scale = 2 + i % 3;
    const auto picture = picture_of(digit, scale, 160, 150, 3 + 7 * (i % 6), 2 + 5 * (i % 7));
    const std::string path = dir.file("digit" + std::to_string(i) + (i % 2 == 0 ? ".png" : ".pgm"));
    lenet5::deploy::write_image(path, picture);
    auto image = lenet5::deploy::load_digit(path);
    ASSERT_EQ(image.width, 28);
    ASSERT_EQ(image.height, 28);
    const auto [cx, cy] = lenet5::deploy::center_of_mass(image);
    EXPECT_NEAR(cx, 14.0, 1.0) << path;
    EXPECT_NEAR(cy, 14.0, 1.0) << path;
    EXPECT_FLOAT_EQ(*std::max_element(image.pixels.begin(), image.pixels.end()), 1.0f) << "ink is high";
    EXPECT_LT(max_in_corners(image), 0.05f) << path << ": the background is zero";
    EXPECT_EQ(median(image.pixels), 0.0f) << path << ": the background is zero";
    EXPECT_GT(correlation(image, original), 0.75) << path;
    originals.push_back(std::move(original));
    preprocessed.push_back(std::move(image));
    labels.push_back(test.targets()[i].item<int64_t>());
  }
  const auto from_pictures = lenet5::deploy::predict(model, preprocessed);
  const auto from_mnist = lenet5::deploy::predict(model, originals);
  int correct = 0, correct_on_mnist = 0;
  for (int i = 0; i < kDigits; ++i) {
    correct += from_pictures[static_cast<size_t>(i)].label == labels[static_cast<size_t>(i)];
    correct_on_mnist += from_mnist[static_cast<size_t>(i)].label == labels[static_cast<size_t>(i)];
    EXPECT_NEAR(std::accumulate(from_pictures[static_cast<size_t>(i)].probabilities.begin(),
                                from_pictures[static_cast<size_t>(i)].probabilities.end(), 0.0),
                1.0, 1e-5);
  }
  std::cout << "recognised " << correct << " of " << kDigits << " pictures (" << correct_on_mnist
            << " of the original digits)\n";
  EXPECT_GE(correct, 17);
  EXPECT_GE(correct, correct_on_mnist - 2);
}

TEST(DeployImage, ColourTransparencyJpegAndBmpAllGiveTheSameDigit) {
  lenet5::testing::TempDir dir;
  const GrayImage shape = ring(90);  // ink high
  const auto reference = lenet5::deploy::preprocess(shape);
  auto ink = [&](int x, int y) { return shape.at(x, y); };

  // Black ink on a transparent background (a typical drawing-app export).
  write_rgba_png(dir.file("transparent.png"), 90, 90, [&](int x, int y) {
    return std::array<uint8_t, 4>{0, 0, 0, static_cast<uint8_t>(255 * ink(x, y))};
  });
  // Blue ink on yellowish paper.
  write_rgba_png(dir.file("colour.png"), 90, 90, [&](int x, int y) {
    const float v = ink(x, y);
    return std::array<uint8_t, 4>{static_cast<uint8_t>(250 - 230 * v), static_cast<uint8_t>(240 - 200 * v),
                                  static_cast<uint8_t>(170 + 60 * v), 255};
  });
  std::vector<uint8_t> gray(90 * 90);
  for (int i = 0; i < 90 * 90; ++i) gray[static_cast<size_t>(i)] = static_cast<uint8_t>(255 - 255 * shape.pixels[static_cast<size_t>(i)]);
  ASSERT_NE(stbi_write_jpg(dir.file("scan.jpg").c_str(), 90, 90, 1, gray.data(), 90), 0);
  ASSERT_NE(stbi_write_bmp(dir.file("scan.bmp").c_str(), 90, 90, 1, gray.data()), 0);
  // Light ink on a dark background is already the right polarity.
  lenet5::deploy::write_image(dir.file("chalk.pgm"), shape);

  for (const char* name : {"transparent.png", "colour.png", "scan.jpg", "scan.bmp", "chalk.pgm"}) {
    const auto image = lenet5::deploy::load_digit(dir.file(name));
    EXPECT_GT(correlation(image, reference), 0.95) << name;
    EXPECT_LT(max_in_corners(image), 0.05f) << name;
  }
}

TEST(DeployImage, LongestSideBecomes20PixelsKeepingTheAspectRatio) {
  GrayImage tall(200, 300, 1.0f);  // a dark bar 20 wide, 200 high on white
  for (int y = 50; y < 250; ++y) {
    for (int x = 90; x < 110; ++x) tall.at(x, y) = 0.0f;
  }
  const auto image = lenet5::deploy::preprocess(tall);
  int x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      if (image.at(x, y) > 0.5f) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  EXPECT_EQ(y1 - y0 + 1, 20);
  EXPECT_EQ(x1 - x0 + 1, 2);
  const auto [cx, cy] = lenet5::deploy::center_of_mass(image);
  EXPECT_NEAR(cx, 14.0, 0.6);
  EXPECT_NEAR(cy, 14.0, 0.6);

  // Fashion-MNIST fills the whole field.
  const auto fashion = lenet5::deploy::preprocess(tall, lenet5::deploy::preprocess_options_for("fashion-mnist"));
  EXPECT_GT(fashion.at(14, 0), 0.5f);
  EXPECT_GT(fashion.at(14, 27), 0.5f);
}

TEST(DeployImage, PngAndPgmRoundTrip) {
  lenet5::testing::TempDir dir;
  GrayImage image(5, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<float>(i) / 14.0f;
  for (const char* name : {"a.png", "a.pgm"}) {
    lenet5::deploy::write_image(dir.file(name), image);
    const auto back = lenet5::deploy::read_image(dir.file(name));
    ASSERT_EQ(back.width, 5);
    ASSERT_EQ(back.height, 3);
    for (size_t i = 0; i < image.pixels.size(); ++i) EXPECT_NEAR(back.pixels[i], image.pixels[i], 0.51 / 255) << name;
  }
  EXPECT_THAT(error_of([&] { lenet5::deploy::write_image(dir.file("a.gif"), image); }), HasSubstr("use .png or .pgm"));
}

TEST(DeployImage, UnreadableOrBlankPicturesNameTheFile) {
  lenet5::testing::TempDir dir;
  lenet5::testing::write_file(dir.file("notes.png"), {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  lenet5::deploy::write_image(dir.file("good.png"), ring(40));
  const auto png = lenet5::testing::read_file(dir.file("good.png"));
  lenet5::testing::write_file(dir.file("truncated.png"), {png.begin(), png.begin() + 40});
  lenet5::testing::write_file(dir.file("empty.jpg"), {});
  lenet5::deploy::write_image(dir.file("blank.png"), GrayImage(50, 40, 1.0f));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir.file("missing.png"), "not found"},
      {dir.path(), "is a folder"},
      {dir.file("notes.png"), "cannot decode image"},
      {dir.file("truncated.png"), "cannot decode image"},
      {dir.file("empty.jpg"), "cannot decode image"},
      {dir.file("blank.png"), "no digit found"},
  };
  for (const auto& [path, expected] : cases) {
    const std::string message = error_of([&] { lenet5::deploy::load_digit(path); });
    EXPECT_THAT(message, StartsWith(path + ": ")) << message;
    EXPECT_THAT(message, HasSubstr(expected)) << message;
  }
}

}  // namespace
