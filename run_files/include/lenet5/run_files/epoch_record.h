// metrics.jsonl: one JSON line per finished epoch. The trainer writes it and reads it back to resume; the report
// reads it to draw the run. A field a line leaves out (or writes as null) reads as NaN.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lenet5::run_files {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  std::optional<double> val_loss, val_accuracy;  // only when part of the training set was held out
  double lr = 0;                                 // at the end of the epoch
  double seconds = 0;
  double images_per_second = 0;

  // Every field the trainer always writes is there (a line from an older or hand-made file may lack some).
  bool complete() const;
};

// One line of metrics.jsonl, without the newline.
std::string epoch_line(const EpochRecord& record);
// The whole file for `records`, one line each.
std::string metrics_text(const std::vector<EpochRecord>& records);

// Parses one line; `position` is its epoch when the line names none. Throws std::runtime_error starting with
// `where` for malformed JSON or a field out of its type or range (epochs 1..1e6, accuracies in [0, 1], ...).
EpochRecord parse_epoch_line(const std::string& line, const std::string& where, int64_t position);

// Every record of the file, blank lines skipped; throws std::runtime_error naming "<path>:<line>" and the field.
std::vector<EpochRecord> read_metrics(const std::string& path);

}  // namespace lenet5::run_files
