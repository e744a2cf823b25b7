// Reading IDX files (the MNIST container format), raw or gzip-compressed. Knows nothing of torch,
// so it compiles fast and can be fuzzed on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lenet5::data {

// Thrown for every malformed or unreadable file; what() names the file and what is wrong.
class IdxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The two kinds of IDX file MNIST uses, identified by their magic number.
enum class IdxKind : std::uint32_t {
  kImages = 0x00000803,  // unsigned bytes, 3 dimensions: count, rows, columns
  kLabels = 0x00000801,  // unsigned bytes, 1 dimension: count
};

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> values;  // row-major, product(dims) bytes

  std::size_t count() const { return dims.empty() ? 0 : dims[0]; }
};

struct IdxLimits {
  // Larger payloads are rejected before anything is allocated. MNIST's biggest file holds 47,040,000 bytes.
  std::uint64_t max_payload_bytes = std::uint64_t{1} << 31;
};

// Parses an IDX file already in memory. `name` is used in error messages.
IdxArray parse_idx(const std::uint8_t* bytes, std::size_t size, IdxKind expected, const std::string& name,
                   const IdxLimits& limits = {});

// Reads an IDX file, gzip-compressed or not (detected from its content, not its name).
IdxArray read_idx_file(const std::string& path, IdxKind expected, const IdxLimits& limits = {});

// A labelled image set as read from an images file and a labels file that agree with each other.
struct LabelledImages {
  IdxArray images;  // dims {count, rows, columns}
  IdxArray labels;  // dims {count}, every value < num_classes
};

LabelledImages read_labelled_images(const std::string& images_path, const std::string& labels_path,
                                    int num_classes = 10);

}  // namespace lenet5::data
