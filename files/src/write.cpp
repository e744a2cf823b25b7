#include "lenet5/files/write.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>

namespace lenet5::files {
namespace {
namespace fs = std::filesystem;

constexpr const char* kTemporaryMark = ".lenet5-tmp-";

std::string error_text(int error) { return std::strerror(error); }

std::string parent_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Under a file-size limit (ulimit -f) the kernel kills a writer with SIGXFSZ by default, half-way through a file;
// ignored, the write fails with EFBIG instead and the error is reported like a full disk.
void ignore_file_size_signal() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGXFSZ, SIG_IGN); });
}

std::string random_hex() {
  static std::mutex mutex;
  static std::mt19937_64 generator{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(generator()));
  return text;
}

// A temporary file next to `path`, created exclusively: it can only be ours. Returns its path and descriptor.
std::pair<std::string, int> create_temporary(const std::string& path) {
  const std::string name = fs::path(path).filename().string().substr(0, 128);
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string temporary =
        (fs::path(parent_of(path)) / ("." + name + kTemporaryMark + std::to_string(::getpid()) + "-" + random_hex()))
            .string();
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return {temporary, fd};
    if (errno != EEXIST) throw FileError(path + ": cannot write: " + error_text(errno));
  }
  throw FileError(path + ": cannot create a temporary file next to it");
}

// Writes everything and makes it durable; false (errno set) on any failure, the descriptor closed either way.
bool write_and_close(int fd, const std::string& content) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      errno = error;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return false;
  }
  return ::close(fd) == 0;
}

// Writes `content` into a new temporary file next to `path`; returns its name. Throws FileError, removing it.
std::string write_temporary(const std::string& path, const std::string& content) {
  ignore_file_size_signal();
  auto [temporary, fd] = create_temporary(path);
  if (!write_and_close(fd, content)) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw FileError(path + ": cannot write: " + error_text(error));
  }
  return temporary;
}

// Makes a rename in `dir` durable, so files replaced one after the other reach the disk in that order.
void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Renames `from` to `to` unless `to` exists (then false, errno EEXIST): the test for "free" and the write are one
// step. Filesystems without RENAME_NOREPLACE get link() + unlink(), which never replaces a name either.
bool move_without_replacing(const std::string& from, const std::string& to) {
#ifdef RENAME_NOREPLACE  // glibc 2.28 and later
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno != EINVAL && errno != ENOSYS) return false;
#endif
  if (::link(from.c_str(), to.c_str()) != 0) return false;
  ::unlink(from.c_str());
  return true;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

}  // namespace

void check_output_path(const std::string& path, const std::vector<std::string>& inputs) {
  struct stat output {};
  if (::stat(path.c_str(), &output) != 0) {
    if (errno == ENOENT) return;  // a new file (or a dangling link, which the rename replaces)
    throw FileError(path + ": cannot write: " + error_text(errno));
  }
  if (S_ISDIR(output.st_mode)) throw FileError(path + ": is a folder, expected a file name to write");
  if (!S_ISREG(output.st_mode)) {
    throw FileError(path + ": exists and is not a regular file (a device, FIFO or socket); lenet5 does not replace it");
  }
  for (const auto& input : inputs) {
    struct stat info {};
    if (!input.empty() && ::stat(input.c_str(), &info) == 0 && same_file(info, output)) {
      throw FileError(path + ": is the input " + input + "; writing it would destroy it, choose another name");
    }
  }
}

void write_file_atomically(const std::string& path, const std::string& content) {
  check_output_path(path);
  const std::string temporary = write_temporary(path, content);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw FileError(path + ": cannot replace: " + error_text(error));
  }
  sync_directory(parent_of(path));
}

std::string write_new_file(const std::string& dir, const std::string& stem, const std::string& extension,
                           const std::string& content) {
  const std::string first = (fs::path(dir) / (stem + extension)).string();
  const std::string temporary = write_temporary(first, content);
  for (int n = 1; n < 100000; ++n) {
    const std::string name = n == 1 ? stem + extension : stem + "-" + std::to_string(n) + extension;
    const std::string path = (fs::path(dir) / name).string();
    if (move_without_replacing(temporary, path)) {
      sync_directory(dir);
      return path;
    }
    if (errno != EEXIST) {
      const int error = errno;
      ::unlink(temporary.c_str());
      throw FileError(path + ": cannot write: " + error_text(error));
    }
  }
  ::unlink(temporary.c_str());
  throw FileError(first + ": no free name left for it");
}

void ensure_writable_directory(const std::string& dir) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0 && !S_ISDIR(info.st_mode)) throw FileError(dir + ": exists and is not a folder");
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw FileError(dir + ": cannot create folder: " + error.message());
  try {
    ::unlink(write_temporary((fs::path(dir) / "probe").string(), "probe").c_str());
  } catch (const FileError& e) {
    const std::string reason = e.what();
    throw FileError(dir + ": folder is not writable: " + reason.substr(reason.rfind(": ") + 2));
  }
}

bool is_temporary_file_name(const std::string& name) {
  const auto mark = name.rfind(kTemporaryMark);
  if (name.empty() || name[0] != '.' || mark == std::string::npos || mark < 2) return false;
  const std::string tail = name.substr(mark + std::strlen(kTemporaryMark));  // <pid>-<16 hex digits>
  const auto dash = tail.find('-');
  return dash != std::string::npos && dash > 0 && tail.find_first_not_of("0123456789") == dash &&
         tail.size() == dash + 17 && tail.find_first_not_of("0123456789abcdef", dash + 1) == std::string::npos;
}

void remove_stale_temporary_files(const std::string& dir) {
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!is_temporary_file_name(name)) continue;
    const auto pid_start = name.rfind(kTemporaryMark) + std::strlen(kTemporaryMark);
    const long pid = std::strtol(name.c_str() + pid_start, nullptr, 10);
    // A writer still running (another command writing into this folder) keeps its file.
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
}

}  // namespace lenet5::files
