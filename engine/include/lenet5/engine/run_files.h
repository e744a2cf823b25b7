// Files of a run folder, each written whole or not at all.
#pragma once

#include <string>
#include <vector>

namespace lenet5::engine {

// Writes `content` to `path` through a temporary file in the same folder and a rename.
void write_file_atomically(const std::string& path, const std::string& content);

// Creates `dir` when needed and proves it writable by writing and removing a probe file. Throws
// std::runtime_error naming the folder otherwise.
void ensure_writable_directory(const std::string& dir);

// A new run folder name under `parent`: <parent>/<YYYYmmdd-HHMMSS>-<label>, unique.
std::string new_run_directory(const std::string& parent, const std::string& label);

}  // namespace lenet5::engine
