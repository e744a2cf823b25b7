#include "lenet5/data/dataset_files.h"

#include <filesystem>
#include <stdexcept>

#include "lenet5/data/idx.h"

namespace lenet5::data {
namespace fs = std::filesystem;

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

std::string split_file_name(Split split, bool labels) {
  return std::string(split == Split::kTrain ? "train" : "t10k") +
         (labels ? "-labels-idx1-ubyte" : "-images-idx3-ubyte");
}

std::optional<std::string> find_idx_file(const std::string& dir, const std::string& name) {
  std::error_code ignored;
  for (const std::string& candidate : {name, name + ".gz"}) {
    const fs::path path = fs::path(dir) / candidate;
    if (fs::exists(path, ignored)) return path.string();
  }
  return std::nullopt;
}

std::string find_split_file(const std::string& root, Split split, bool labels) {
  const std::string base = split_file_name(split, labels);
  std::error_code ignored;
  if (!fs::is_directory(root, ignored)) {
    throw IdxError(root + ": dataset folder does not exist (expected " + base + " or " + base + ".gz in it)");
  }
  if (auto path = find_idx_file(root, base)) return *path;
  throw IdxError(root + ": missing " + base + " (or " + base + ".gz)");
}

}  // namespace lenet5::data
