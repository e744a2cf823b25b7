#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "lenet5/data/idx.h"
#include "lenet5/data/mnist_dataset.h"
#include "test_files.h"

namespace {

using lenet5::data::MnistDataset;
using lenet5::data::Split;

TEST(MnistDataset, LoadsRealTrainingSet) {
  LENET5_REQUIRE_MNIST();
  const std::string dir = lenet5::testing::mnist_dir();
  ASSERT_FALSE(dir.empty());
  MnistDataset train(dir, Split::kTrain);
  EXPECT_EQ(train.images().sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train.targets().sizes(), (std::vector<int64_t>{60000}));
  EXPECT_EQ(train.images().dtype(), torch::kFloat32);
  EXPECT_TRUE(train.images().is_contiguous());
  EXPECT_GE(train.images().min().item<float>(), 0.0f);
  EXPECT_LE(train.images().max().item<float>(), 1.0f);
  const auto first = train.targets().slice(0, 0, 10);
  EXPECT_TRUE(torch::equal(first, torch::tensor({5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, torch::kInt64)));
}

TEST(MnistDataset, LoadsRealTestSet) {
  LENET5_REQUIRE_MNIST();
  const std::string dir = lenet5::testing::mnist_dir();
  ASSERT_FALSE(dir.empty());
  MnistDataset test(dir, Split::kTest);
  EXPECT_EQ(test.length(), 10000);
  EXPECT_TRUE(
      torch::equal(test.targets().slice(0, 0, 10), torch::tensor({7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, torch::kInt64)));
}

TEST(MnistDataset, LoadsGzippedFashionMnist) {
  LENET5_REQUIRE_FASHION_MNIST();
  const std::string dir = lenet5::testing::fashion_mnist_dir();
  MnistDataset test(dir, Split::kTest);
  EXPECT_EQ(test.length(), 10000);
  EXPECT_EQ(torch::bincount(test.targets()).min().item<int64_t>(), 1000);  // 1,000 of each class
  EXPECT_EQ(lenet5::data::class_names(lenet5::data::parse_dataset_kind("fashion-mnist"))[9], "Ankle boot");
}

TEST(MnistDataset, BatchSelectsRowsByIndex) {
  auto images = torch::arange(5 * 4, torch::kFloat32).view({5, 1, 2, 2});
  MnistDataset dataset(images, torch::arange(5, torch::kInt64));
  auto batch = dataset.batch(torch::tensor({4, 0, 2}, torch::kInt64));
  EXPECT_TRUE(torch::equal(batch.target, torch::tensor({4, 0, 2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(batch.data[0], images[4]));
  auto same = dataset.get_batch(std::vector<size_t>{4, 0, 2});
  EXPECT_TRUE(torch::equal(same.data, batch.data));
}

TEST(MnistDataset, EpochPermutationIsSeededPerEpoch) {
  auto a = lenet5::data::epoch_permutation(1000, 7, 0, torch::kCPU);
  auto b = lenet5::data::epoch_permutation(1000, 7, 0, torch::kCPU);
  auto next_epoch = lenet5::data::epoch_permutation(1000, 7, 1, torch::kCPU);
  auto other_seed = lenet5::data::epoch_permutation(1000, 8, 0, torch::kCPU);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, next_epoch));
  EXPECT_FALSE(torch::equal(a, other_seed));
  EXPECT_TRUE(torch::equal(std::get<0>(a.sort()), torch::arange(1000, torch::kInt64)));
}

TEST(MnistDataset, SplitIsDisjointAndComplete) {
  MnistDataset dataset(torch::arange(100, torch::kFloat32).view({100, 1, 1, 1}), torch::arange(100) % 10);
  auto [train, val] = dataset.split(0.1, 3);
  EXPECT_EQ(train.length(), 90);
  EXPECT_EQ(val.length(), 10);
  auto all = torch::cat({train.images().flatten(), val.images().flatten()});
  EXPECT_TRUE(torch::equal(std::get<0>(all.sort()), torch::arange(100, torch::kFloat32)));
}

TEST(MnistDataset, MissingFolderNamesTheFile) {
  lenet5::testing::TempDir dir;
  try {
    MnistDataset dataset(dir.path(), Split::kTrain);
    FAIL() << "expected an error";
  } catch (const lenet5::data::IdxError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("missing train-images-idx3-ubyte (or train-images-idx3-ubyte.gz)"));
  }
}

TEST(MnistDataset, RejectsImagesThatAreNot28x28) {
  lenet5::testing::TempDir dir;
  using lenet5::testing::idx_bytes;
  lenet5::testing::write_file(dir.file("t10k-images-idx3-ubyte"),
                              idx_bytes(0x803, {2, 32, 32}, std::vector<std::uint8_t>(2048)));
  lenet5::testing::write_file(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x801, {2}, {1, 2}));
  try {
    MnistDataset dataset(dir.path(), Split::kTest);
    FAIL() << "expected an error";
  } catch (const lenet5::data::IdxError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("images are 32x32, the model expects 28x28"));
  }
}

// The limit applies before the files are read and converted: a 2 GB training file (sparse here) with a limit of
// 2000 costs 2000 images, where it used to be read and converted to float whole (8 GB) first.
TEST(MnistDataset, ALimitReadsOnlyTheImagesAsked) {
  lenet5::testing::TempDir dir;
  using lenet5::testing::idx_bytes;
  constexpr std::uint32_t kCount = 2700000;
  lenet5::testing::write_file(dir.file("train-images-idx3-ubyte"), idx_bytes(0x803, {kCount, 28, 28}, {255}));
  const auto images_size = static_cast<off_t>(16 + std::uint64_t{kCount} * 784);
  ASSERT_EQ(::truncate(dir.file("train-images-idx3-ubyte").c_str(), images_size), 0);
  lenet5::testing::write_file(dir.file("train-labels-idx1-ubyte"), idx_bytes(0x801, {kCount}, {3}));
  ASSERT_EQ(::truncate(dir.file("train-labels-idx1-ubyte").c_str(), static_cast<off_t>(8 + kCount)), 0);
  const MnistDataset dataset(dir.path(), Split::kTrain, 2000);
  EXPECT_EQ(dataset.length(), 2000);
  EXPECT_FLOAT_EQ(dataset.images()[0][0][0][0].item<float>(), 1.0f);
  EXPECT_EQ(dataset.targets()[0].item<int64_t>(), 3);
  EXPECT_EQ(dataset.targets()[1].item<int64_t>(), 0);
}

}  // namespace
