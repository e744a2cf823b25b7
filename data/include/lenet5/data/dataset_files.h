// What an MNIST-format dataset folder holds, without torch: its kinds and their class names, the file of each
// split, found raw or gzip-compressed. Shared by the dataset, the report and the CLI.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lenet5::data {

enum class Split { kTrain, kTest };
// The one name table of Split (`eval --split`).
const std::vector<std::pair<std::string, Split>>& split_names();
std::string split_name(Split split);

enum class DatasetKind { kMnist, kFashionMnist };
// The one name table of DatasetKind (command line, config.json, checkpoints, metadata.json).
const std::vector<std::pair<std::string, DatasetKind>>& dataset_kind_names();
DatasetKind parse_dataset_kind(const std::string& name);  // a name in the table; else std::invalid_argument
std::string dataset_kind_name(DatasetKind kind);
const std::vector<std::string>& class_names(DatasetKind kind);

// The split's file name as MNIST publishes it, without ".gz": "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte".
std::string split_file_name(Split split, bool labels);

// <dir>/<name> when it exists, else <dir>/<name>.gz when that exists; nothing when neither does.
std::optional<std::string> find_idx_file(const std::string& dir, const std::string& name);

// The file of a split in `root`, raw or gzipped; throws IdxError naming the folder and the file when missing.
std::string find_split_file(const std::string& root, Split split, bool labels);

}  // namespace lenet5::data
