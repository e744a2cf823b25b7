// Writing output files safely: never half a file, never over an input, a device or a file we did not make.
// Torch-free.
#pragma once

#include <string>
#include <vector>

#include "lenet5/files/read.h"

namespace lenet5::files {

// Throws FileError unless `path` may be written: it does not exist, or it is a regular file that is not one of
// `inputs` (the same file under another name, through a link or a hard link, counts as the input).
void check_output_path(const std::string& path, const std::vector<std::string>& inputs = {});

// Writes `content` to `path` whole or not at all: through a temporary file in the same folder (see
// is_temporary_file_name), fsync and a rename, so `path` holds either its previous content or the new one.
// Runs check_output_path(path) first: a device node, FIFO or folder at `path` is never replaced. A full disk or a
// file-size limit (SIGXFSZ is ignored, so the write fails with EFBIG) ends in FileError, the temporary removed.
void write_file_atomically(const std::string& path, const std::string& content);

// Writes a new file <dir>/<stem><extension>, or <stem>-2<extension>, -3, ... whichever name is still free at
// the moment of writing: an existing file (an input among them) is never replaced. Returns the path written.
std::string write_new_file(const std::string& dir, const std::string& stem, const std::string& extension,
                           const std::string& content);

// Creates `dir` when needed and proves it writable with a probe file of our own (a temporary file name, created
// exclusively and removed). Throws FileError naming the folder otherwise.
void ensure_writable_directory(const std::string& dir);

// Temporary files are named ".<name>.lenet5-tmp-<pid>-<random>": nothing a user names a file by accident.
bool is_temporary_file_name(const std::string& name);
// Removes the temporary files in `dir` that a lenet5 process no longer running left behind; nothing else.
void remove_stale_temporary_files(const std::string& dir);

}  // namespace lenet5::files
