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
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "lenet5/data/idx.h"
#include "lenet5/deploy/image.h"
#include "lenet5/text/printable.h"
#include "test_files.h"

namespace {

using lenet5::deploy::GrayImage;
using lenet5::deploy::ImageError;
using ::testing::HasSubstr;
using ::testing::StartsWith;

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
  LENET5_REQUIRE_MNIST();
  std::string images_path = dir_name + "/t10k-images-idx3-ubyte";
  if (!std::filesystem::exists(images_path)) images_path += ".gz";
  const auto images = lenet5::data::read_idx_file(images_path, lenet5::data::IdxKind::kImages);
  lenet5::testing::TempDir dir;
  for (size_t i = 0; i < 20; ++i) {
    const GrayImage original = mnist_digit(images, i);
    const int scale = 2 + static_cast<int>(i % 3);
    const auto picture =
        picture_of(original, scale, 160, 150, 3 + 7 * static_cast<int>(i % 6), 2 + 5 * static_cast<int>(i % 7));
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
  for (int i = 0; i < 90 * 90; ++i)
    gray[static_cast<size_t>(i)] = static_cast<uint8_t>(255 - 255 * shape.pixels[static_cast<size_t>(i)]);
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
  const auto fashion = lenet5::deploy::preprocess(
      tall, lenet5::deploy::preprocess_options_for(lenet5::data::DatasetKind::kFashionMnist));
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
      {dir.file("notes.png"), "cannot decode image: unknown format (it starts with 6E 6F 74 20)"},
      {dir.file("truncated.png"), "truncated PNG: 40 bytes"},
      {dir.file("empty.jpg"), "cannot decode image: the file is empty"},
      {dir.file("blank.png"), "no digit found"},
  };
  for (const auto& [path, expected] : cases) {
    const std::string message = error_of([&] { lenet5::deploy::load_digit(path); });
    EXPECT_THAT(message, StartsWith(path + ": ")) << message;
    EXPECT_THAT(message, HasSubstr(expected)) << message;
  }
}

using Bytes = std::vector<std::uint8_t>;

void append_to(void* context, void* data, int size) {
  auto* bytes = static_cast<Bytes*>(context);
  const auto* begin = static_cast<const std::uint8_t*>(data);
  bytes->insert(bytes->end(), begin, begin + size);
}

// 8-bit pixels of the ring, dark ink on white, repeated over `channels`.
Bytes ring_pixels(int side, int channels) {
  const GrayImage shape = ring(side);
  Bytes pixels;
  for (float v : shape.pixels) {
    for (int c = 0; c < channels; ++c) pixels.push_back(static_cast<std::uint8_t>(255 - 255 * v));
  }
  return pixels;
}

Bytes pnm(char kind, int side, bool sixteen_bits) {
  const int channels = kind == '6' ? 3 : 1;
  const std::string header = std::string("P") + kind + "\n# a comment\n" + std::to_string(side) + " " +
                             std::to_string(side) + "\n" + (sixteen_bits ? "65535" : "255") + "\n";
  Bytes bytes(header.begin(), header.end());
  for (std::uint8_t v : ring_pixels(side, channels)) {
    bytes.push_back(v);
    if (sixteen_bits) bytes.push_back(v);
  }
  return bytes;
}

// A GIF of 7-bit grey pixels: LZW with 8-bit codes, a clear code before the table would need 9 bits.
Bytes gif(int side) {
  Bytes bytes{'G', 'I',  'F', '8', '9', 'a', static_cast<std::uint8_t>(side), 0, static_cast<std::uint8_t>(side),
              0,   0x86, 0,   0};
  for (int i = 0; i < 128; ++i) bytes.insert(bytes.end(), 3, static_cast<std::uint8_t>(2 * i));
  bytes.insert(bytes.end(),
               {0x2C, 0, 0, 0, 0, static_cast<std::uint8_t>(side), 0, static_cast<std::uint8_t>(side), 0, 0, 7});
  Bytes codes;
  int since_clear = 0;
  for (std::uint8_t v : ring_pixels(side, 1)) {
    if (since_clear++ % 120 == 0) codes.push_back(128);
    codes.push_back(v / 2);
  }
  codes.push_back(129);  // end of information
  for (size_t i = 0; i < codes.size(); i += 255) {
    const size_t n = std::min<size_t>(255, codes.size() - i);
    bytes.push_back(static_cast<std::uint8_t>(n));
    bytes.insert(bytes.end(), codes.begin() + static_cast<std::ptrdiff_t>(i),
                 codes.begin() + static_cast<std::ptrdiff_t>(i + n));
  }
  bytes.push_back(0);
  bytes.push_back(0x3B);
  return bytes;
}

// One picture of the ring per format and layout the decoder supports.
std::vector<std::pair<std::string, Bytes>> pictures_of_every_format() {
  constexpr int kSide = 40;
  std::vector<std::pair<std::string, Bytes>> pictures;
  auto encode = [&](const std::string& name, int channels, const std::function<int(Bytes*, const Bytes&)>& write) {
    Bytes bytes;
    EXPECT_NE(write(&bytes, ring_pixels(kSide, channels)), 0) << name;
    pictures.emplace_back(name, bytes);
  };
  for (int channels : {1, 3}) {
    const std::string suffix = channels == 1 ? "-grey" : "-rgb";
    encode("png" + suffix, channels, [&](Bytes* out, const Bytes& p) {
      return stbi_write_png_to_func(append_to, out, kSide, kSide, channels, p.data(), kSide * channels);
    });
    encode("jpeg" + suffix, channels, [&](Bytes* out, const Bytes& p) {
      return stbi_write_jpg_to_func(append_to, out, kSide, kSide, channels, p.data(), 90);
    });
    encode("bmp" + suffix, channels, [&](Bytes* out, const Bytes& p) {
      return stbi_write_bmp_to_func(append_to, out, kSide, kSide, channels, p.data());
    });
    for (int rle : {0, 1}) {
      encode(std::string(rle ? "tga-rle" : "tga") + suffix, channels, [&](Bytes* out, const Bytes& p) {
        stbi_write_tga_with_rle = rle;
        return stbi_write_tga_to_func(append_to, out, kSide, kSide, channels, p.data());
      });
    }
  }
  pictures.emplace_back("pgm", pnm('5', kSide, false));
  pictures.emplace_back("pgm-16bit", pnm('5', kSide, true));
  pictures.emplace_back("ppm", pnm('6', kSide, false));
  pictures.emplace_back("gif", gif(kSide));
  return pictures;
}

TEST(DeployImage, EveryFormatDecodesWhole) {
  const auto reference = lenet5::deploy::preprocess(ring(40));
  for (const auto& [name, bytes] : pictures_of_every_format()) {
    const auto image = lenet5::deploy::decode_image(bytes, name);
    ASSERT_EQ(image.width, 40) << name;
    EXPECT_GT(correlation(lenet5::deploy::preprocess(image), reference), 0.95) << name;
  }
}

// Through files, as predict reads them: each picture cut short at many points, from inside the signature to
// one byte before the end.
TEST(DeployImage, TruncatedPicturesOfEveryFormatAreRefused) {
  lenet5::testing::TempDir dir;
  for (const auto& [name, bytes] : pictures_of_every_format()) {
    const size_t n = bytes.size();
    for (size_t cut : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{10}, size_t{17}, size_t{18}, size_t{30},
                       size_t{60}, n / 4, n / 2, 3 * n / 4, n - 4, n - 2, n - 1}) {
      const std::string path = dir.file(name);
      lenet5::testing::write_file(path, Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut)));
      const std::string message = error_of([&] { lenet5::deploy::read_image(path); });
      EXPECT_THAT(message, StartsWith(path + ": ")) << cut << " of " << n << " bytes";
      if (cut >= 18) {
        EXPECT_THAT(message, HasSubstr(": truncated ")) << cut << " of " << n << " bytes";
        EXPECT_THAT(message, HasSubstr(std::to_string(cut) + " bytes, ")) << message;
      }
    }
  }
}

TEST(DeployImage, TruncationNamesWhatTheHeaderPromises) {
  for (const auto& [name, bytes] : pictures_of_every_format()) {
    if (name != "pgm" && name != "bmp-grey" && name != "tga-rgb" && name != "png-grey") continue;
    const Bytes head(bytes.begin(), bytes.end() - 1);
    EXPECT_THAT(error_of([&] { lenet5::deploy::decode_image(head, "x"); }),
                HasSubstr(std::to_string(bytes.size() - 1) + " bytes, header promises " + std::to_string(bytes.size())))
        << name;
  }
}

// Some writers leave out the padding of the last row, which no decoder reads: still whole.
TEST(DeployImage, BmpWithoutTheLastRowsPaddingIsWhole) {
  constexpr int kWidth = 41;  // 24-bit rows of 123 bytes, padded to 124
  const Bytes pixels = ring_pixels(kWidth, 1);
  Bytes bmp;
  ASSERT_NE(stbi_write_bmp_to_func(append_to, &bmp, kWidth, 41, 1, pixels.data()), 0);
  const Bytes unpadded(bmp.begin(), bmp.end() - 1);
  EXPECT_EQ(lenet5::deploy::decode_image(unpadded, "scan.bmp").width, kWidth);
  const Bytes short_row(bmp.begin(), bmp.end() - 2);
  EXPECT_THAT(error_of([&] { lenet5::deploy::decode_image(short_row, "scan.bmp"); }),
              ::testing::Eq("scan.bmp: truncated BMP: " + std::to_string(bmp.size() - 2) + " bytes, header promises " +
                            std::to_string(bmp.size() - 1)));
}

TEST(DeployImage, DecoderErrorsNameTheDetectedFormat) {
  const auto pictures = pictures_of_every_format();
  auto picture = [&](const std::string& name) {
    for (const auto& [n, bytes] : pictures) {
      if (n == name) return bytes;
    }
    ADD_FAILURE() << name;
    return Bytes{};
  };
  Bytes jpeg = picture("jpeg-grey");
  // Garbage in the first Huffman table segment (after its marker and length).
  for (size_t i = 2; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC4) {
      std::fill(jpeg.begin() + static_cast<std::ptrdiff_t>(i + 4), jpeg.begin() + static_cast<std::ptrdiff_t>(i + 8),
                0xEE);
      break;
    }
  }
  const std::string jpeg_error = error_of([&] { lenet5::deploy::decode_image(jpeg, "scan.jpg"); });
  EXPECT_THAT(jpeg_error, StartsWith("scan.jpg: cannot decode JPEG image: "));
  EXPECT_THAT(jpeg_error, ::testing::Not(HasSubstr("png")));

  // A critical chunk stb does not know, named with an escape sequence: stb quotes the name in its reason.
  Bytes png = picture("png-grey");
  const Bytes chunk{0, 0, 0, 0, 0x1B, '[', '2', 'J', 0, 0, 0, 0};
  png.insert(png.begin() + 33, chunk.begin(), chunk.end());  // after the signature and IHDR
  EXPECT_EQ(error_of([&] { lenet5::deploy::decode_image(png, "odd.png"); }),
            "odd.png: cannot decode PNG image: \\x1B[2J PNG chunk not known");

  const std::string ascii = "P2\n2 2\n255\n0 255\n255 0\n";
  EXPECT_THAT(error_of([&] { lenet5::deploy::decode_image(Bytes(ascii.begin(), ascii.end()), "a.pgm"); }),
              StartsWith("a.pgm: plain (ASCII) PGM 'P2' is not supported; expected PNG, JPEG, BMP, GIF, TGA or "
                         "binary PGM/PPM (P5/P6)"));
  for (const char* kind : {"P1", "P3", "P4", "P7"}) {
    const std::string text = std::string(kind) + "\n2 2\n1\n0 1 1 0\n";
    EXPECT_THAT(error_of([&] { lenet5::deploy::decode_image(Bytes(text.begin(), text.end()), "a.pnm"); }),
                HasSubstr(std::string("'") + kind + "' is not supported"));
  }
  EXPECT_THAT(error_of([&] { lenet5::deploy::decode_image(Bytes{}, "e.png"); }),
              ::testing::Eq("e.png: cannot decode image: the file is empty"));
}

TEST(DeployImage, PicturesOverThePixelCapAreRefusedFromTheHeader) {
  Bytes png;
  const Bytes pixel{0};
  ASSERT_NE(stbi_write_png_to_func(append_to, &png, 1, 1, 1, pixel.data(), 1), 0);
  // IHDR's width and height (after the 8-byte signature and the chunk's length and type) become 5000x5000.
  for (size_t at : {size_t{16}, size_t{20}}) {
    png[at] = 0, png[at + 1] = 0, png[at + 2] = 0x13, png[at + 3] = 0x88;
  }
  EXPECT_THAT(error_of([&] { lenet5::deploy::decode_image(png, "big.png"); }),
              StartsWith("big.png: image too large (5000x5000 = 25000000 pixels, at most 16777216, e.g. 4096x4096)"));
}

TEST(DeployImage, PrintableEscapesTerminalControlsOnly) {
  using lenet5::text::printable;
  EXPECT_EQ(printable("digit 7.png"), "digit 7.png");
  EXPECT_EQ(printable("a\x1b[2Jb"), "a\\x1B[2Jb");
  EXPECT_EQ(printable("line\nbreak\ttab\r"), "line\\x0Abreak\\x09tab\\x0D");
  EXPECT_EQ(printable("del\x7f"), "del\\x7F");
  EXPECT_EQ(printable("csi\xc2\x9b"
                      "31m"),
            "csi\\u009B31m");
  EXPECT_EQ(printable("latin-1 \xe9t\xe9"), "latin-1 \\xE9t\\xE9");
  EXPECT_EQ(printable("surrogate \xed\xa0\x80"), "surrogate \\xED\\xA0\\x80");
  EXPECT_EQ(printable("overlong \xc0\xaf"), "overlong \\xC0\\xAF");
  EXPECT_EQ(printable("\xc3\xa9t\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 back\\slash"),
            "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 back\\slash");
  EXPECT_EQ(printable(std::string("nul\0byte", 8)), "nul\\x00byte");
  for (const std::string text : {"a\x1b[2Jb", "csi\xc2\x9b", "\xff\xfe", "x\\x1B"}) {
    EXPECT_EQ(printable(printable(text)), printable(text)) << "escaping twice changes nothing more";
  }
}

TEST(DeployImage, ControlCharactersInFileNamesAreEscapedInMessages) {
  lenet5::testing::TempDir dir;
  const std::string name = dir.file("evil\x1b]0;title\x07\n.png");
  lenet5::testing::write_file(name, {'j', 'u', 'n', 'k'});
  const std::string message = error_of([&] { lenet5::deploy::load_digit(name); });
  EXPECT_THAT(message, HasSubstr("evil\\x1B]0;title\\x07\\x0A.png: cannot decode image"));
  EXPECT_EQ(message.find_first_of("\x1b\x07\n"), std::string::npos) << message;
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
