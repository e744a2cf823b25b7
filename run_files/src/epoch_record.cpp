#include "lenet5/run_files/epoch_record.h"

#include <cmath>
#include <sstream>

#include "json_fields.h"
#include "lenet5/files/read.h"

namespace lenet5::run_files {
namespace {

using nlohmann::json;

// Far above any real run, low enough that an axis from epoch 1 to N cannot exhaust memory.
constexpr double kMaxEpoch = 1e6;

std::optional<double> optional_number(double value) {
  return std::isnan(value) ? std::nullopt : std::optional<double>(value);
}

}  // namespace

bool EpochRecord::complete() const {
  for (double value : {train_loss, train_accuracy, test_loss, test_accuracy, lr, seconds, images_per_second}) {
    if (std::isnan(value)) return false;
  }
  return val_loss.has_value() == val_accuracy.has_value();
}

std::string epoch_line(const EpochRecord& record) {
  json line{{"epoch", record.epoch},
            {"train_loss", record.train_loss},
            {"train_accuracy", record.train_accuracy},
            {"test_loss", record.test_loss},
            {"test_accuracy", record.test_accuracy},
            {"lr", record.lr},
            {"seconds", record.seconds},
            {"images_per_second", record.images_per_second}};
  if (record.val_accuracy) {
    line["val_loss"] = record.val_loss.value_or(kNoValue);
    line["val_accuracy"] = *record.val_accuracy;
  }
  return line.dump();
}

std::string metrics_text(const std::vector<EpochRecord>& records) {
  std::string text;
  for (const auto& record : records) text += epoch_line(record) + "\n";
  return text;
}

EpochRecord parse_epoch_line(const std::string& line, const std::string& where, int64_t position) {
  const json object = parse_json_object(line, where);
  const Fields fields(object, where);
  EpochRecord e;
  const double epoch = fields.number("epoch", 1, kMaxEpoch, /*whole=*/true);
  e.epoch = std::isfinite(epoch) ? static_cast<int64_t>(epoch) : position;
  e.train_loss = fields.number("train_loss", -kAnyNumber, kAnyNumber);
  e.train_accuracy = fields.number("train_accuracy", 0, 1);
  e.test_loss = fields.number("test_loss", -kAnyNumber, kAnyNumber);
  e.test_accuracy = fields.number("test_accuracy", 0, 1);
  e.val_loss = optional_number(fields.number("val_loss", -kAnyNumber, kAnyNumber));
  e.val_accuracy = optional_number(fields.number("val_accuracy", 0, 1));
  e.lr = fields.number("lr", 0, kAnyNumber);
  e.seconds = fields.number("seconds", 0, kAnyNumber);
  e.images_per_second = fields.number("images_per_second", 0, kAnyNumber);
  return e;
}

std::vector<EpochRecord> read_metrics(const std::string& path) {
  std::vector<EpochRecord> records;
  std::istringstream in(files::read_input(path, files::InputKind::kRunFile));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto position = static_cast<int64_t>(records.size()) + 1;
    records.push_back(parse_epoch_line(line, path + ":" + std::to_string(number), position));
  }
  return records;
}

}  // namespace lenet5::run_files
