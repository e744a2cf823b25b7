// Reading input files safely: only regular files, opened without blocking, each read once.
// Torch-free, so the IDX reader, its fuzzers and the sanitizer build use it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace lenet5::files {

// Thrown for every input or output lenet5 refuses or cannot use; what() is one line starting with the path.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a file is expected to hold, for the messages: "<path>: checkpoint not found", "<path>: is a FIFO (named
// pipe), expected a checkpoint file".
enum class InputKind { kCheckpoint, kModel, kImage, kIdx, kRunFile };

// Larger inputs are refused before anything is allocated (MNIST's biggest file is 47 MB, a checkpoint 1 MB).
constexpr std::uint64_t kMaxInputBytes = std::uint64_t{1} << 31;

// An input file opened for reading. A FIFO, device, socket or folder is refused with one line naming it, before
// a byte is read: the file is inspected with stat and opened with O_NONBLOCK (so even a FIFO swapped in between
// cannot block the open) and checked again with fstat on the descriptor that is then read.
class InputFile {
 public:
  InputFile(const std::string& path, InputKind kind);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }  // at opening
  // Reads up to `size` bytes; returns how many (0 at the end). Throws FileError on a read error.
  std::size_t read(void* out, std::size_t size);
  // Hands the descriptor over (to zlib's gzdopen, say): the caller closes it.
  int release();

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// The whole file, read once. Refuses files larger than `max_bytes`.
std::string read_input(const std::string& path, InputKind kind, std::uint64_t max_bytes = kMaxInputBytes);

// Whether `path` exists at all (as anything, a dangling link included): for optional inputs such as a run's
// evaluation.json, which are then read with read_input and refused there when they are not regular files.
bool exists(const std::string& path);

}  // namespace lenet5::files
