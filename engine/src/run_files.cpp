#include "lenet5/engine/run_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace lenet5::engine {
namespace fs = std::filesystem;

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::FILE* file = std::fopen(temporary.c_str(), "wb");
    if (file == nullptr) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
    const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size();
    const bool flushed = std::fflush(file) == 0 && ::fsync(fileno(file)) == 0;
    const int saved_errno = errno;
    std::fclose(file);
    if (!written || !flushed) {
      std::remove(temporary.c_str());
      throw std::runtime_error(path + ": cannot write: " + std::strerror(saved_errno));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved_errno = errno;
    std::remove(temporary.c_str());
    throw std::runtime_error(path + ": cannot replace: " + std::strerror(saved_errno));
  }
  // Make the rename itself durable, so files replaced one after the other reach the disk in that order.
  const std::string parent = fs::path(path).has_parent_path() ? fs::path(path).parent_path().string() : ".";
  const int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void ensure_writable_directory(const std::string& dir) {
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_directory(dir, error)) {
    throw std::runtime_error(dir + ": exists and is not a folder");
  }
  fs::create_directories(dir, error);
  if (error) throw std::runtime_error(dir + ": cannot create folder: " + error.message());
  const std::string probe = (fs::path(dir) / ".write-probe").string();
  std::FILE* file = std::fopen(probe.c_str(), "wb");
  const bool ok = file != nullptr && std::fwrite("probe", 1, 5, file) == 5 && std::fflush(file) == 0;
  const int saved_errno = errno;
  if (file != nullptr) std::fclose(file);
  std::remove(probe.c_str());
  if (!ok) throw std::runtime_error(dir + ": folder is not writable: " + std::strerror(saved_errno));
}

std::string new_run_directory(const std::string& parent, const std::string& label) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  std::string base = (fs::path(parent) / (std::string(stamp) + "-" + label)).string();
  std::string candidate = base;
  for (int suffix = 2; fs::exists(candidate); ++suffix) candidate = base + "-" + std::to_string(suffix);
  return candidate;
}

}  // namespace lenet5::engine
