#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "lenet5/data/dataset_files.h"
#include "lenet5/data/idx.h"
#include "lenet5/data/memory.h"
#include "test_files.h"

namespace {

using lenet5::data::IdxArray;
using lenet5::data::IdxError;
using lenet5::data::IdxKind;
using lenet5::data::IdxLimits;
using lenet5::data::parse_idx;
using lenet5::data::read_idx_file;
using lenet5::data::read_labelled_images;
using lenet5::testing::idx_bytes;
using lenet5::testing::TempDir;
using lenet5::testing::write_file;
using lenet5::testing::write_gzip_file;
using ::testing::HasSubstr;

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;

std::vector<std::uint8_t> ramp(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7);
  return v;
}

// Runs `parse` and returns the IdxError message, failing the test when nothing is thrown.
template <typename F>
std::string error_of(F&& parse) {
  try {
    parse();
  } catch (const IdxError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an IdxError";
  return {};
}

std::string parse_error(const std::vector<std::uint8_t>& bytes, IdxKind kind = IdxKind::kImages) {
  return error_of([&] { parse_idx(bytes.data(), bytes.size(), kind, "f.idx"); });
}

TEST(IdxReader, ParsesImagesFromMemory) {
  const auto payload = ramp(2 * 3 * 4);
  const auto bytes = idx_bytes(kImagesMagic, {2, 3, 4}, payload);
  const IdxArray array = parse_idx(bytes.data(), bytes.size(), IdxKind::kImages, "mem");
  EXPECT_EQ(array.dims, (std::vector<std::uint32_t>{2, 3, 4}));
  EXPECT_EQ(array.values, payload);
  EXPECT_EQ(array.count(), 2u);
}

TEST(IdxReader, ReadsRawAndGzipFilesAlike) {
  TempDir dir;
  const auto payload = ramp(5);
  const auto bytes = idx_bytes(kLabelsMagic, {5}, {0, 1, 2, 3, 9});
  write_file(dir.file("labels"), bytes);
  write_gzip_file(dir.file("labels.gz"), bytes);
  const auto raw = read_idx_file(dir.file("labels"), IdxKind::kLabels);
  const auto gz = read_idx_file(dir.file("labels.gz"), IdxKind::kLabels);
  EXPECT_EQ(raw.values, (std::vector<std::uint8_t>{0, 1, 2, 3, 9}));
  EXPECT_EQ(gz.values, raw.values);
  EXPECT_EQ(gz.dims, raw.dims);
}

TEST(IdxReader, RejectsEmptyInput) { EXPECT_THAT(parse_error({}), HasSubstr("f.idx: file is empty")); }

TEST(IdxReader, RejectsTruncatedMagic) {
  EXPECT_THAT(parse_error({0, 0, 8}), HasSubstr("truncated header: expected 4 magic bytes, found 3"));
}

TEST(IdxReader, RejectsTruncatedDimensions) {
  auto bytes = idx_bytes(kImagesMagic, {2, 3}, {});
  EXPECT_THAT(parse_error(bytes), HasSubstr("truncated header: expected 12 bytes, found 8"));
}

TEST(IdxReader, RejectsForeignMagic) {
  const std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', 0, 0, 0, 0};
  EXPECT_THAT(parse_error(png), HasSubstr("wrong magic number: expected 0x00000803 (IDX images), found 0x89504e47"));
}

TEST(IdxReader, RejectsLabelsWhereImagesAreExpected) {
  const auto bytes = idx_bytes(kLabelsMagic, {1}, {3});
  EXPECT_THAT(parse_error(bytes, IdxKind::kImages),
              HasSubstr("expected 0x00000803 (IDX images), found 0x00000801 (IDX labels)"));
}

TEST(IdxReader, RejectsImagesWhereLabelsAreExpected) {
  const auto bytes = idx_bytes(kImagesMagic, {1, 1, 1}, {3});
  EXPECT_THAT(parse_error(bytes, IdxKind::kLabels),
              HasSubstr("expected 0x00000801 (IDX labels), found 0x00000803 (IDX images)"));
}

TEST(IdxReader, RejectsUnsupportedElementType) {
  const auto bytes = idx_bytes(0x00000D03, {1, 1, 1}, {0, 0, 0, 0});  // 0x0D = float32
  EXPECT_THAT(parse_error(bytes), HasSubstr("unsupported element type 0x0d: expected 0x08 (unsigned byte)"));
}

TEST(IdxReader, RejectsZeroDimension) {
  const auto bytes = idx_bytes(kImagesMagic, {0, 28, 28}, {});
  EXPECT_THAT(parse_error(bytes), HasSubstr("dimension 0 is 0, expected a positive size"));
}

TEST(IdxReader, RejectsAbsurdSizeBeforeAllocating) {
  // Four billion 28x28 images: rejected from the header alone.
  const auto bytes = idx_bytes(kImagesMagic, {4000000000u, 28, 28}, {});
  EXPECT_THAT(parse_error(bytes), HasSubstr("header claims an absurd size"));
}

TEST(IdxReader, RejectsPayloadShorterThanHeaderPromises) {
  const auto bytes = idx_bytes(kImagesMagic, {2, 2, 2}, ramp(7));
  EXPECT_THAT(parse_error(bytes), HasSubstr("truncated data: header promises 8 bytes, file holds 7"));
}

TEST(IdxReader, RejectsTrailingBytes) {
  const auto bytes = idx_bytes(kImagesMagic, {2, 2, 2}, ramp(9));
  EXPECT_THAT(parse_error(bytes), HasSubstr("trailing bytes after the data: header promises 8 bytes"));
}

TEST(IdxReader, RejectsTruncatedGzipPayload) {
  TempDir dir;
  write_gzip_file(dir.file("short.gz"), idx_bytes(kImagesMagic, {4, 2, 2}, ramp(10)));
  EXPECT_THAT(error_of([&] { read_idx_file(dir.file("short.gz"), IdxKind::kImages); }),
              HasSubstr("short.gz: truncated data: header promises 16 bytes, found 10"));
}

TEST(IdxReader, RejectsCorruptGzipStream) {
  TempDir dir;
  write_gzip_file(dir.file("full.gz"), idx_bytes(kImagesMagic, {40, 20, 20}, ramp(16000)));
  auto bytes = lenet5::testing::read_file(dir.file("full.gz"));
  bytes.resize(bytes.size() / 2);  // cut the deflate stream in the middle
  write_file(dir.file("cut.gz"), bytes);
  EXPECT_THAT(error_of([&] { read_idx_file(dir.file("cut.gz"), IdxKind::kImages); }), HasSubstr("cut.gz: "));
  for (std::size_t i = 20; i < bytes.size(); i += 7) bytes[i] ^= 0x5a;  // garble the rest
  write_file(dir.file("garbled.gz"), bytes);
  EXPECT_THAT(error_of([&] { read_idx_file(dir.file("garbled.gz"), IdxKind::kImages); }), HasSubstr("garbled.gz: "));
}

TEST(IdxReader, RejectsMissingFileAndDirectory) {
  TempDir dir;
  EXPECT_THAT(error_of([&] { read_idx_file(dir.file("absent"), IdxKind::kImages); }),
              HasSubstr("absent: IDX file not found"));
  EXPECT_THAT(error_of([&] { read_idx_file(dir.path(), IdxKind::kImages); }),
              HasSubstr("is a folder, expected an IDX file"));
}

// A FIFO (or a device) used to block the reader forever; SIGALRM ends the test instead of hanging the suite.
TEST(IdxReader, RejectsNonRegularFilesWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  ::alarm(30);
  EXPECT_THAT(error_of([&] { read_idx_file(dir.file("fifo"), IdxKind::kImages); }),
              HasSubstr(dir.file("fifo") + ": is a FIFO (named pipe), expected an IDX file"));
  EXPECT_THAT(error_of([&] { read_idx_file("/dev/zero", IdxKind::kLabels); }),
              HasSubstr("/dev/zero: is a character device, expected an IDX file"));
  ::alarm(0);
}

// A limit reads the header and the first records only: a 2 GiB file (sparse here) costs what the limit asks.
TEST(IdxReader, MaxRecordsReadsOnlyTheRecordsAsked) {
  TempDir dir;
  constexpr std::uint32_t kCount = 2700000;  // 2.1 GB of 28x28 images, just under the payload cap
  auto header = idx_bytes(kImagesMagic, {kCount, 28, 28}, {7, 8, 9});
  write_file(dir.file("huge"), header);
  ASSERT_EQ(::truncate(dir.file("huge").c_str(), static_cast<off_t>(16 + std::uint64_t{kCount} * 784)), 0);
  IdxLimits limits;
  limits.max_records = 2000;
  const auto images = read_idx_file(dir.file("huge"), IdxKind::kImages, limits);
  EXPECT_EQ(images.dims, (std::vector<std::uint32_t>{2000, 28, 28}));
  EXPECT_EQ(images.records_in_file, kCount);
  ASSERT_EQ(images.values.size(), 2000u * 784u);
  EXPECT_EQ(images.values[0], 7);
  EXPECT_EQ(images.values[2], 9);
  // The file's size is still checked against its header, without reading it.
  ASSERT_EQ(::truncate(dir.file("huge").c_str(), 16 + 5000 * 784), 0);
  EXPECT_THAT(error_of([&] { read_idx_file(dir.file("huge"), IdxKind::kImages, limits); }),
              HasSubstr("truncated data"));
}

TEST(IdxReader, MaxRecordsStreamsOnlyThatMuchOfAGzipFile) {
  TempDir dir;
  std::vector<std::uint8_t> payload(100);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i % 10);
  write_gzip_file(dir.file("labels.gz"), idx_bytes(kLabelsMagic, {100}, payload));
  IdxLimits limits;
  limits.max_records = 10;
  const auto labels = read_idx_file(dir.file("labels.gz"), IdxKind::kLabels, limits);
  EXPECT_EQ(labels.count(), 10u);
  EXPECT_EQ(labels.records_in_file, 100u);
  EXPECT_EQ(labels.values, std::vector<std::uint8_t>(payload.begin(), payload.begin() + 10));
  limits.max_records = 1000;  // more than the file holds: all of it, checked to its end
  EXPECT_EQ(read_idx_file(dir.file("labels.gz"), IdxKind::kLabels, limits).count(), 100u);
}

TEST(IdxReader, LimitedLabelledImagesStillNeedMatchingCounts) {
  TempDir dir;
  write_file(dir.file("images"), idx_bytes(kImagesMagic, {3, 1, 1}, {1, 2, 3}));
  write_file(dir.file("labels"), idx_bytes(kLabelsMagic, {2}, {1, 2}));
  EXPECT_THAT(error_of([&] { read_labelled_images(dir.file("images"), dir.file("labels"), 10, 1); }),
              HasSubstr("labels: holds 2 labels, but " + dir.file("images") + " holds 3 images"));
  write_file(dir.file("labels"), idx_bytes(kLabelsMagic, {3}, {1, 2, 3}));
  const auto set = read_labelled_images(dir.file("images"), dir.file("labels"), 10, 2);
  EXPECT_EQ(set.images.count(), 2u);
  EXPECT_EQ(set.labels.values, (std::vector<std::uint8_t>{1, 2}));
}

TEST(Memory, ADatasetThatCannotFitIsOneLineNamingTheFileAndTheMemory) {
  EXPECT_THAT(error_of([] {
                lenet5::data::require_memory("train-images", std::uint64_t{17} << 29, "60000 images",
                                             std::uint64_t{1} << 30);
              }),
              HasSubstr("train-images: 60000 images needs 8.5 GiB of memory, 1.0 GiB available"));
  EXPECT_NO_THROW(lenet5::data::require_memory("x", 100, "y", std::uint64_t{1} << 30));
  EXPECT_NO_THROW(lenet5::data::require_memory("x", 100, "y", std::nullopt));
  const auto available = lenet5::data::available_memory();
  ASSERT_TRUE(available.has_value()) << "/proc/meminfo is readable on Linux";
  EXPECT_GT(*available, 0u);
}

TEST(IdxReader, RejectsImageAndLabelCountMismatch) {
  TempDir dir;
  write_file(dir.file("images"), idx_bytes(kImagesMagic, {3, 1, 1}, {1, 2, 3}));
  write_file(dir.file("labels"), idx_bytes(kLabelsMagic, {2}, {1, 2}));
  EXPECT_THAT(error_of([&] { read_labelled_images(dir.file("images"), dir.file("labels")); }),
              HasSubstr("labels: holds 2 labels, but " + dir.file("images") + " holds 3 images"));
}

TEST(IdxReader, RejectsLabelOutOfRange) {
  TempDir dir;
  write_file(dir.file("images"), idx_bytes(kImagesMagic, {3, 1, 1}, {1, 2, 3}));
  write_file(dir.file("labels"), idx_bytes(kLabelsMagic, {3}, {1, 10, 2}));
  EXPECT_THAT(error_of([&] { read_labelled_images(dir.file("images"), dir.file("labels")); }),
              HasSubstr("label 10 at index 1 is out of range: expected 0..9"));
}

TEST(IdxReader, ReadsRealMnistTestLabels) {
  LENET5_REQUIRE_MNIST();
  const std::string dir = lenet5::testing::mnist_dir();
  const auto labels = read_idx_file(dir + "/t10k-labels-idx1-ubyte", IdxKind::kLabels);
  ASSERT_EQ(labels.dims, (std::vector<std::uint32_t>{10000}));
  const std::vector<std::uint8_t> first(labels.values.begin(), labels.values.begin() + 10);
  EXPECT_EQ(first, (std::vector<std::uint8_t>{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}));
  std::vector<int> counts(10, 0);
  for (auto label : labels.values) ++counts[label];
  EXPECT_EQ(counts, (std::vector<int>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
}

// The one lookup of a dataset file: the raw file first, else its .gz, else nothing (the callers say why).
TEST(DatasetFiles, RawFileBeforeGzipElseNothing) {
  TempDir dir;
  const std::string name = lenet5::data::split_file_name(lenet5::data::Split::kTest, /*labels=*/true);
  EXPECT_EQ(name, "t10k-labels-idx1-ubyte");
  EXPECT_FALSE(lenet5::data::find_idx_file(dir.path(), name).has_value());
  EXPECT_THROW(lenet5::data::find_split_file(dir.path(), lenet5::data::Split::kTest, true), IdxError);
  write_gzip_file(dir.file(name + ".gz"), {1});
  EXPECT_EQ(lenet5::data::find_idx_file(dir.path(), name), dir.file(name + ".gz"));
  write_file(dir.file(name), {1});
  EXPECT_EQ(lenet5::data::find_idx_file(dir.path(), name), dir.file(name));
  EXPECT_EQ(lenet5::data::find_split_file(dir.path(), lenet5::data::Split::kTest, true), dir.file(name));
  EXPECT_EQ(lenet5::data::class_names(lenet5::data::DatasetKind::kFashionMnist).at(9), "Ankle boot");
}

}  // namespace
