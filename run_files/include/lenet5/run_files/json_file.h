// A run's JSON documents (config.json, evaluation.json) read as one object, each error one line naming the file.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace lenet5::run_files {

// The file's JSON object, or nothing when the file does not exist. Reads only a regular file, once (a FIFO is
// refused, not waited on); throws std::runtime_error "<path>: malformed ..." when it is not a JSON object.
std::optional<nlohmann::json> read_json_object(const std::string& path);

// The object's value at `key` as text (a string as it is, anything else as JSON); "" when absent or null.
std::string string_field(const nlohmann::json& object, const char* key);

}  // namespace lenet5::run_files
