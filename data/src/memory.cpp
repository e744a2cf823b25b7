#include "lenet5/data/memory.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "lenet5/data/idx.h"

namespace lenet5::data {
namespace {

std::optional<std::uint64_t> meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> read_number(const char* path) {
  std::ifstream in(path);
  std::uint64_t value = 0;
  if (in >> value) return value;
  return std::nullopt;  // missing, or "max"
}

}  // namespace

std::optional<std::uint64_t> available_memory() {
  std::optional<std::uint64_t> available = meminfo_available();
  const auto limit = read_number("/sys/fs/cgroup/memory.max");
  const auto used = read_number("/sys/fs/cgroup/memory.current");
  if (limit && used) {
    const std::uint64_t left = *limit > *used ? *limit - *used : 0;
    if (!available || left < *available) available = left;
  }
  return available;
}

std::string format_bytes(std::uint64_t bytes) {
  const double value = static_cast<double>(bytes);
  char text[32];
  if (bytes >= (std::uint64_t{1} << 30)) {
    std::snprintf(text, sizeof text, "%.1f GiB", value / (1 << 30));
  } else if (bytes >= (std::uint64_t{1} << 20)) {
    std::snprintf(text, sizeof text, "%.1f MiB", value / (1 << 20));
  } else {
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  }
  return text;
}

void require_memory(const std::string& path, std::uint64_t bytes, const std::string& what,
                    std::optional<std::uint64_t> available) {
  if (available && bytes > *available) {
    throw IdxError(path + ": " + what + " needs " + format_bytes(bytes) + " of memory, " + format_bytes(*available) +
                   " available (train can read fewer with --limit-train and --limit-test)");
  }
}

}  // namespace lenet5::data
