#include "json_fields.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "lenet5/files/read.h"
#include "lenet5/run_files/json_file.h"

namespace lenet5::run_files {
namespace {

using nlohmann::json;

// A bound in a message: up to 6 decimals, no trailing zeros ("1000000", "0.5").
std::string bound(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6f", value);
  std::string text = buffer;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string expectation(double lo, double hi, bool whole) {
  const std::string kind = whole ? "a whole number" : "a number";
  const bool bounded_below = lo > -kAnyNumber;
  const bool bounded_above = hi < kAnyNumber;
  if (bounded_below && bounded_above) return kind + " in [" + bound(lo) + ", " + bound(hi) + "]";
  if (bounded_below) return kind + " >= " + bound(lo);
  return whole ? "a whole number" : "a finite number";
}

}  // namespace

json parse_json_object(const std::string& text, const std::string& where) {
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception& e) {
    throw std::runtime_error(where + ": malformed JSON: " + e.what());
  }
  if (!value.is_object()) throw std::runtime_error(where + ": malformed: expected a JSON object");
  return value;
}

std::optional<json> read_json_object(const std::string& path) {
  if (!files::exists(path)) return std::nullopt;
  return parse_json_object(files::read_input(path, files::InputKind::kRunFile), path);
}

std::string string_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

double Fields::number(const std::string& key, double lo, double hi, bool whole) const {
  const auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return kNoValue;
  return checked(*it, key, lo, hi, whole);
}

double Fields::checked(const json& value, const std::string& key, double lo, double hi, bool whole) const {
  if (!value.is_number()) fail(key, "is " + std::string(value.type_name()) + ", expected a number");
  const double v = value.get<double>();
  const bool in_range = std::isfinite(v) && v >= lo && v <= hi && (!whole || v == std::floor(v));
  if (!in_range) fail(key, "is " + value.dump() + ", expected " + expectation(lo, hi, whole));
  return v;
}

void Fields::fail(const std::string& key, const std::string& problem) const {
  throw std::runtime_error(where_ + ": field '" + key + "' " + problem);
}

}  // namespace lenet5::run_files
