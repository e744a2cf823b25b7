#include "lenet5/run_files/evaluation_record.h"

#include <cmath>

#include "json_fields.h"
#include "lenet5/run_files/json_file.h"

namespace lenet5::run_files {
namespace {

using nlohmann::json;

// Far above any real run, low enough that nothing drawn from a file (a K x K table) can exhaust memory.
constexpr double kMaxImages = 1e9;
constexpr std::size_t kMaxMistakes = 1000;

// The array at `key` (of `expected_size` entries when not 0), or nullptr when absent or null.
const json* array_field(const json& object, const Fields& fields, const char* key, std::size_t expected_size) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  if (!it->is_array()) fields.fail(key, "is " + std::string(it->type_name()) + ", expected an array");
  if (expected_size > 0 && it->size() != expected_size) {
    fields.fail(key, "has " + std::to_string(it->size()) + " entries, expected " + std::to_string(expected_size) +
                         " (one per class)");
  }
  return &*it;
}

std::vector<std::vector<int64_t>> confusion_matrix(const json& rows, const Fields& fields, std::size_t classes) {
  std::vector<std::vector<int64_t>> confusion;
  for (const auto& row : rows) {
    if (!row.is_array() || row.size() != classes) {
      fields.fail("confusion", "is not a " + std::to_string(classes) + "x" + std::to_string(classes) + " matrix");
    }
    auto& counts = confusion.emplace_back();
    for (const auto& count : row) {
      counts.push_back(static_cast<int64_t>(fields.checked(count, "confusion", 0, kMaxImages, true)));
    }
  }
  return confusion;
}

std::vector<MistakeRecord> mistakes(const json& list, const Fields& fields, const std::string& path,
                                    std::size_t classes) {
  if (list.size() > kMaxMistakes) {
    fields.fail("worst_mistakes",
                "has " + std::to_string(list.size()) + " entries, at most " + std::to_string(kMaxMistakes));
  }
  const double top_class = static_cast<double>(classes) - 1;
  std::vector<MistakeRecord> records;
  for (const auto& m : list) {
    if (!m.is_object()) fields.fail("worst_mistakes", "holds " + std::string(m.type_name()) + ", expected objects");
    const Fields mistake(m, path + ": worst_mistakes");
    auto required = [&](const char* key, double hi) {
      const double v = mistake.number(key, 0, hi, /*whole=*/true);
      if (!std::isfinite(v)) mistake.fail(key, "is missing");
      return static_cast<int64_t>(v);
    };
    records.push_back({required("index", kMaxImages), required("label", top_class), required("predicted", top_class),
                       mistake.number("confidence", 0, 1)});
  }
  return records;
}

}  // namespace

std::string evaluation_json(const EvaluationRecord& record) {
  json document{{"n", record.n},
                {"accuracy", record.accuracy},
                {"loss", record.loss},
                {"per_class_accuracy", record.per_class_accuracy},
                {"confusion", record.confusion}};
  if (!record.worst_mistakes.empty()) {
    auto& list = document["worst_mistakes"] = json::array();
    for (const auto& m : record.worst_mistakes) {
      list.push_back(
          {{"index", m.index}, {"label", m.label}, {"predicted", m.predicted}, {"confidence", m.confidence}});
    }
  }
  return document.dump();
}

std::optional<EvaluationRecord> read_evaluation(const std::string& path, std::size_t classes) {
  const auto document = read_json_object(path);
  if (!document) return std::nullopt;
  const Fields fields(*document, path);
  EvaluationRecord e;
  const double n = fields.number("n", 0, kMaxImages, /*whole=*/true);
  e.n = std::isfinite(n) ? static_cast<int64_t>(n) : 0;
  e.accuracy = fields.number("accuracy", 0, 1);
  e.loss = fields.number("loss", -kAnyNumber, kAnyNumber);
  if (const json* accuracies = array_field(*document, fields, "per_class_accuracy", classes)) {
    for (const auto& value : *accuracies)
      e.per_class_accuracy.push_back(fields.checked(value, "per_class_accuracy", 0, 1, false));
  }
  if (const json* rows = array_field(*document, fields, "confusion", classes))
    e.confusion = confusion_matrix(*rows, fields, classes);
  if (const json* list = array_field(*document, fields, "worst_mistakes", 0))
    e.worst_mistakes = mistakes(*list, fields, path, classes);
  return e;
}

}  // namespace lenet5::run_files
