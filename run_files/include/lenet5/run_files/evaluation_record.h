// evaluation.json: the test-set evaluation after the latest epoch. The trainer writes it, the report reads it.
// A number a file leaves out (or writes as null) reads as NaN, a table as empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lenet5::run_files {

struct MistakeRecord {
  int64_t index = 0;  // position in the evaluated dataset
  int64_t label = 0;
  int64_t predicted = 0;
  double confidence = 0;  // softmax probability of the predicted class
};

struct EvaluationRecord {
  int64_t n = 0;
  double accuracy = 0, loss = 0;
  std::vector<double> per_class_accuracy;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<MistakeRecord> worst_mistakes;    // most confident first; the key is left out when empty
};

// The file's JSON, on one line.
std::string evaluation_json(const EvaluationRecord& record);

// <path>'s record, or nothing when the file does not exist. Counts, fractions and class indices must be in range
// and the tables `classes` rows and columns: else std::runtime_error naming the file and the field.
std::optional<EvaluationRecord> read_evaluation(const std::string& path, std::size_t classes);

}  // namespace lenet5::run_files
