// Picture preprocessing for predict (torch-free): real MNIST digits drawn as dark ink on white paper at another
// size and position come back as MNIST-like 28x28 inputs; every decodable format and layout works; unreadable
// files name themselves. (That an exported model recognises such pictures is checked through `lenet5 predict`
// in deploy_cli_test.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <numeric>

#include "lenet5/data/idx.h"
#include "lenet5/deploy/image.h"
#include "test_files.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using lenet5::deploy::GrayImage;
using lenet5::deploy::ImageError;

// The i-th 28x28 digit of an IDX image set, ink high.
GrayImage mnist_digit(const lenet5::data::IdxArray& images, size_t i) {
  GrayImage digit(28, 28);
  for (size_t p = 0; p < 28 * 28; ++p) digit.pixels[p] = images.values[i * 28 * 28 + p] / 255.0f;
  return digit;
}

// A 28x28 digit (ink high) drawn `scale` times larger as dark ink on white paper, at (dx, dy).
GrayImage picture_of(const GrayImage& digit, int scale, int width, int height, int dx, int dy) {
  GrayImage paper(width, height, 1.0f);
  EXPECT_LE(dx + 28 * scale, width);
  EXPECT_LE(dy + 28 * scale, height);
  for (int y = 0; y < 28 * scale; ++y) {
    for (int x = 0; x < 28 * scale; ++x) paper.at(dx + x, dy + y) = 1.0f - digit.at(x / scale, y / scale);
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
  const size_t n = a.pixels.size();
  const double mean_a = std::accumulate(a.pixels.begin(), a.pixels.end(), 0.0) / static_cast<double>(n);
  const double mean_b = std::accumulate(b.pixels.begin(), b.pixels.end(), 0.0) / static_cast<double>(n);
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    const double da = a.pixels[i] - mean_a, db = b.pixels[i] - mean_b;
    ab += da * db, aa += da * da, bb += db * db;
  }
  return ab / std::sqrt(aa * bb);
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

void write_rgba_png(const std::string& path, int width, int height,
                    const std::function<std::array<uint8_t, 4>(int, int)>& pixel) {
  std::vector<uint8_t> bytes;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const auto p = pixel(x, y);
      bytes.insert(bytes.end(), p.begin(), p.end());
    }
  }
  ASSERT_NE(stbi_write_png(path.c_str(), width, height, 4, bytes.data(), width * 4), 0);
}

TEST(DeployImage, MnistDigitsDrawnOnPaperComeBackAsMnistDigits) {
  const std::string dir_name = lenet5::testing::mnist_dir();
  if (dir_name.empty()) GTEST_SKIP() << "real MNIST not found (run scripts/fetch_data.sh or set LENET5_DATA_DIR)";
  std::string images_path = dir_name + "/t10k-images-idx3-ubyte";
  if (!std::filesystem::exists(images_path)) images_path += ".gz";
  const auto images = lenet5::data::read_idx_file(images_path, lenet5::data::IdxKind::kImages);
  lenet5::testing::TempDir dir;
  for (size_t i = 0; i < 20; ++i) {
    const GrayImage original = mnist_digit(images, i);
    const int scale = 2 + static_cast<int>(i % 3);
    const auto picture = picture_of(original, scale, 160, 150, 3 + 7 * static_cast<int>(i % 6),
                                    2 + 5 * static_cast<int>(i % 7));
    const std::string path = dir.file("digit" + std::to_string(i) + (i % 2 == 0 ? ".png" : ".pgm"));
    lenet5::deploy::write_image(path, picture);
    const auto image = lenet5::deploy::load_digit(path);
    ASSERT_EQ(image.width, 28);
    ASSERT_EQ(image.height, 28);
    const auto [cx, cy] = lenet5::deploy::center_of_mass(image);
    EXPECT_NEAR(cx, 14.0, 1.0) << path;
    EXPECT_NEAR(cy, 14.0, 1.0) << path;
    EXPECT_FLOAT_EQ(*std::max_element(image.pixels.begin(), image.pixels.end()), 1.0f) << path << ": ink is high";
    EXPECT_LT(max_in_corners(image), 0.05f) << path << ": the background is zero";
    EXPECT_EQ(median(image.pixels), 0.0f) << path << ": the background is zero";
    EXPECT_GT(correlation(image, original), 0.75) << path << ": looks like the digit it was drawn from";
  }
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

// Only regular files are read, each once: a FIFO, a device or the pipe of a process substitution (<(...),
// /dev/fd/63) is refused at once instead of blocking, or being opened once per decoding attempt.
TEST(DeployImage, NonRegularFilesAreRefusedWithoutBlocking) {
  lenet5::testing::TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("digit.png").c_str(), 0600), 0);
  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);
  const std::string pipe_path = "/proc/self/fd/" + std::to_string(pipe_ends[0]);
  ::alarm(30);
  for (const auto& path : {dir.file("digit.png"), pipe_path}) {
    EXPECT_THAT(error_of([&] { lenet5::deploy::load_digit(path); }),
                StartsWith(path + ": is a FIFO (named pipe), expected an image file"));
  }
  EXPECT_THAT(error_of([&] { lenet5::deploy::read_image("/dev/zero"); }),
              StartsWith("/dev/zero: is a character device, expected an image file"));
  ::alarm(0);
  ::close(pipe_ends[0]);
  ::close(pipe_ends[1]);
}

}  // namespace
