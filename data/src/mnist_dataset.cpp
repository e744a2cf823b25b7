#include "lenet5/data/mnist_dataset.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>

#include "lenet5/data/idx.h"
#include "lenet5/data/memory.h"

namespace lenet5::data {
namespace {

constexpr int64_t kImageSide = 28;

std::string split_prefix(Split split) { return split == Split::kTrain ? "train" : "t10k"; }

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  // splitmix64: decorrelates generators seeded with nearby values.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

const std::vector<std::pair<std::string, Split>>& split_names() {
  static const std::vector<std::pair<std::string, Split>> table = {{"test", Split::kTest}, {"train", Split::kTrain}};
  return table;
}

std::string split_name(Split split) {
  for (const auto& [name, known] : split_names()) {
    if (known == split) return name;
  }
  return "?";
}

const std::vector<std::pair<std::string, DatasetKind>>& dataset_kind_names() {
  static const std::vector<std::pair<std::string, DatasetKind>> table = {{"mnist", DatasetKind::kMnist},
                                                                         {"fashion-mnist", DatasetKind::kFashionMnist}};
  return table;
}

DatasetKind parse_dataset_kind(const std::string& name) {
  for (const auto& [known, kind] : dataset_kind_names()) {
    if (known == name) return kind;
  }
  throw std::invalid_argument("unknown dataset '" + name + "': expected mnist or fashion-mnist");
}

std::string dataset_kind_name(DatasetKind kind) {
  for (const auto& [name, known] : dataset_kind_names()) {
    if (known == kind) return name;
  }
  return "?";
}

const std::vector<std::string>& class_names(DatasetKind kind) {
  static const std::vector<std::string> digits = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  static const std::vector<std::string> clothes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return kind == DatasetKind::kMnist ? digits : clothes;
}

std::string find_split_file(const std::string& root, Split split, bool labels) {
  namespace fs = std::filesystem;
  const std::string base = split_prefix(split) + (labels ? "-labels-idx1-ubyte" : "-images-idx3-ubyte");
  std::error_code ignored;
  if (!fs::is_directory(root, ignored)) {
    throw IdxError(root + ": dataset folder does not exist (expected " + base + " or " + base + ".gz in it)");
  }
  for (const std::string& name : {base, base + ".gz"}) {
    const fs::path path = fs::path(root) / name;
    if (fs::exists(path, ignored)) return path.string();
  }
  throw IdxError(root + ": missing " + base + " (or " + base + ".gz)");
}

MnistDataset::MnistDataset(const std::string& root, Split split, int64_t limit) {
  const std::string images_path = find_split_file(root, split, false);
  const std::string labels_path = find_split_file(root, split, true);
  LabelledImages set =
      read_labelled_images(images_path, labels_path, 10, static_cast<std::uint64_t>(std::max<int64_t>(limit, 0)));
  const auto& dims = set.images.dims;
  if (dims[1] != kImageSide || dims[2] != kImageSide) {
    throw IdxError(images_path + ": images are " + std::to_string(dims[1]) + "x" + std::to_string(dims[2]) +
                   ", the model expects 28x28");
  }
  const int64_t count = static_cast<int64_t>(dims[0]);
  const auto tensor_bytes =
      static_cast<std::uint64_t>(count) * (kImageSide * kImageSide * sizeof(float) + sizeof(int64_t));
  require_memory(images_path, tensor_bytes, std::to_string(count) + " images as float32");
  try {
    auto bytes = torch::from_blob(set.images.values.data(), {count, 1, kImageSide, kImageSide}, torch::kUInt8);
    images_ = bytes.to(torch::kFloat32).div_(255.0);
    targets_ = torch::from_blob(set.labels.values.data(), {count}, torch::kUInt8).to(torch::kInt64);
  } catch (const c10::Error&) {  // the allocator, when the check above was too optimistic
    throw IdxError(images_path + ": " + std::to_string(count) + " images as float32 need " +
                   format_bytes(tensor_bytes) + " of memory, and the allocation failed");
  }
}

MnistDataset::MnistDataset(torch::Tensor images, torch::Tensor targets)
    : images_(std::move(images)), targets_(std::move(targets)) {
  TORCH_CHECK(images_.dim() == 4 && images_.size(1) == 1, "MnistDataset: images must be [N,1,H,W], got ",
              images_.sizes());
  TORCH_CHECK(targets_.dim() == 1 && targets_.size(0) == images_.size(0),
              "MnistDataset: targets must be [N] with N = ", images_.size(0), ", got ", targets_.sizes());
}

torch::data::Example<> MnistDataset::batch(const torch::Tensor& indices) const {
  return {images_.index_select(0, indices), targets_.index_select(0, indices)};
}

torch::data::Example<> MnistDataset::get_batch(c10::ArrayRef<size_t> indices) {
  std::vector<int64_t> as_int64(indices.begin(), indices.end());
  return batch(torch::tensor(as_int64, torch::kInt64).to(images_.device()));
}

MnistDataset MnistDataset::to(torch::Device device) const {
  return MnistDataset(images_.to(device).contiguous(), targets_.to(device).contiguous());
}

MnistDataset MnistDataset::slice(int64_t begin, int64_t end) const {
  return MnistDataset(images_.slice(0, begin, end).contiguous(), targets_.slice(0, begin, end).contiguous());
}

std::pair<MnistDataset, MnistDataset> MnistDataset::split(double fraction, uint64_t seed) const {
  TORCH_CHECK(fraction > 0.0 && fraction < 1.0, "validation fraction must be in (0,1), got ", fraction);
  const int64_t held_out = std::max<int64_t>(1, static_cast<int64_t>(fraction * static_cast<double>(length())));
  TORCH_CHECK(held_out < length(), "validation split of ", fraction, " leaves no training samples");
  auto order = epoch_permutation(length(), seed, -1, images_.device());
  auto train_idx = order.slice(0, 0, length() - held_out);
  auto val_idx = order.slice(0, length() - held_out, length());
  auto train = batch(train_idx);
  auto val = batch(val_idx);
  return {MnistDataset(train.data, train.target), MnistDataset(val.data, val.target)};
}

torch::Tensor epoch_permutation(int64_t size, uint64_t seed, int64_t epoch, torch::Device device) {
  auto generator = at::detail::createCPUGenerator(mix_seed(seed, static_cast<uint64_t>(epoch + 1)));
  return torch::randperm(size, generator, torch::TensorOptions().dtype(torch::kInt64)).to(device);
}

}  // namespace lenet5::data
