// Checked reading of the fields of one JSON object from a run file; errors are one line naming the file (and
// line) and the field.
#pragma once

#include <nlohmann/json.hpp>

#include <limits>
#include <string>

namespace lenet5::run_files {

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kAnyNumber = std::numeric_limits<double>::max();

// `text` parsed as a JSON object; throws std::runtime_error "<where>: malformed ..." otherwise.
nlohmann::json parse_json_object(const std::string& text, const std::string& where);

class Fields {
 public:
  Fields(const nlohmann::json& object, std::string where) : object_(object), where_(std::move(where)) {}

  // The field's value in [lo, hi] (a whole number when `whole`); NaN when the field is absent or null.
  double number(const std::string& key, double lo, double hi, bool whole = false) const;
  // `value` (a field's value or an element of it) checked like number().
  double checked(const nlohmann::json& value, const std::string& key, double lo, double hi, bool whole) const;
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  const nlohmann::json& object_;
  std::string where_;
};

}  // namespace lenet5::run_files
