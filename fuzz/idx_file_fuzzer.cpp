// libFuzzer: read_idx_file on arbitrary bytes stored as a file (an in-memory memfd), as an images file and
// as a labels file. Covers the zlib path: gzip streams, corrupt or truncated ones, and raw files.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "idx_check.h"

namespace {

int memory_file() {
  static const int fd = [] {
    const int created = memfd_create("idx-fuzz-input", 0);
    if (created < 0) std::abort();
    return created;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using lenet5::data::IdxKind;
  const int fd = memory_file();
  if (ftruncate(fd, 0) != 0) std::abort();
  if (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  for (const IdxKind kind : {IdxKind::kImages, IdxKind::kLabels}) {
    lenet5::fuzz::check_parse(kind, path, [&] { return lenet5::data::read_idx_file(path, kind); });
  }
  return 0;
}
