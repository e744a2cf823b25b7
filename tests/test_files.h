// Helpers shared by the tests: temporary folders, tiny IDX files, the real dataset location.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lenet5::testing {

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Bytes of an IDX file: magic (type 0x08, `dims.size()` dimensions), big-endian dims, then `payload`.
std::vector<std::uint8_t> idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& payload);
void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes);
void write_gzip_file(const std::string& path, const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> read_file(const std::string& path);

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;  // what the command wrote to stdout
};

// Runs `command` through /bin/sh (add "2>&1" to capture stderr too) and waits for it.
CommandResult run_shell(const std::string& command);

// Where scripts/fetch_data.sh put the real data; empty when it is missing.
std::string mnist_dir();
std::string fashion_mnist_dir();

}  // namespace lenet5::testing

// The one policy for a real dataset that is missing: the test skips, saying why and how to get it
// (scripts/test.sh always fetches both). Use at the top of a TEST or of a fixture's SetUp.
#define LENET5_REQUIRE_MNIST()                                                                 \
  if (lenet5::testing::mnist_dir().empty()) {                                                  \
    GTEST_SKIP() << "real MNIST not found (run scripts/fetch_data.sh or set LENET5_DATA_DIR)"; \
  }
#define LENET5_REQUIRE_FASHION_MNIST()                                                                 \
  if (lenet5::testing::fashion_mnist_dir().empty()) {                                                  \
    GTEST_SKIP() << "real Fashion-MNIST not found (run scripts/fetch_data.sh or set LENET5_DATA_DIR)"; \
  }
