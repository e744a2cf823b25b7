#include "lenet5/files/read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lenet5::files {
namespace {

struct KindNames {
  const char* noun;      // "<path>: <noun> not found"
  const char* expected;  // "<path>: is a folder, expected <expected>"
};

KindNames names_of(InputKind kind) {
  switch (kind) {
    case InputKind::kCheckpoint: return {"checkpoint", "a checkpoint file"};
    case InputKind::kModel: return {"model file", "an exported model file"};
    case InputKind::kImage: return {"image", "an image file"};
    case InputKind::kIdx: return {"IDX file", "an IDX file"};
    case InputKind::kRunFile: return {"file", "a regular file"};
  }
  return {"file", "a regular file"};
}

// What a non-regular file is, for the message.
const char* type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] void refuse(const std::string& path, mode_t mode, InputKind kind) {
  const std::string expected = names_of(kind).expected;
  if (S_ISDIR(mode)) throw FileError(path + ": is a folder, expected " + expected);
  throw FileError(path + ": is " + type_name(mode) + ", expected " + expected + " (lenet5 reads only regular files)");
}

[[noreturn]] void fail_to_open(const std::string& path, int error, InputKind kind) {
  if (error == ENOENT) throw FileError(path + ": " + names_of(kind).noun + " not found");
  throw FileError(path + ": cannot open: " + std::strerror(error));
}

}  // namespace

InputFile::InputFile(const std::string& path, InputKind kind) : path_(path) {
  // stat first: a device or FIFO is refused without being opened at all (opening a device can have effects).
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) fail_to_open(path, errno, kind);
  if (!S_ISREG(info.st_mode)) refuse(path, info.st_mode, kind);
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd_ < 0) fail_to_open(path, errno, kind);
  if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {  // replaced between stat and open
    const mode_t mode = info.st_mode;
    ::close(fd_);
    fd_ = -1;
    refuse(path, mode, kind);
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<std::uint64_t>(info.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t InputFile::read(void* out, std::size_t size) {
  auto* bytes = static_cast<char*>(out);
  std::size_t total = 0;
  while (total < size) {
    const ssize_t n = ::read(fd_, bytes + total, size - total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(path_ + ": read error: " + std::strerror(errno));
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
  }
  return total;
}

int InputFile::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

std::string read_input(const std::string& path, InputKind kind, std::uint64_t max_bytes) {
  InputFile file(path, kind);
  if (file.size() > max_bytes) {
    throw FileError(path + ": " + std::to_string(file.size()) + " bytes, more than the " + std::to_string(max_bytes) +
                    " lenet5 reads for " + names_of(kind).expected);
  }
  std::string content(static_cast<std::size_t>(file.size()), '\0');
  content.resize(file.read(content.data(), content.size()));
  // A file that grew since it was opened is read up to its size at opening: one consistent snapshot.
  return content;
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

}  // namespace lenet5::files
