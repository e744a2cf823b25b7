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
  std::vector<std::uint32_t> dims;    // dims[0]: the records read (fewer than the file holds under max_records)
  std::vector<std::uint8_t> values;   // row-major, product(dims) bytes
  std::uint32_t records_in_file = 0;  // dims[0] as the file's header gives it

  std::size_t count() const { return dims.empty() ? 0 : dims[0]; }
};

struct IdxLimits {
  // Larger payloads are rejected before anything is allocated. MNIST's biggest file holds 47,040,000 bytes.
  std::uint64_t max_payload_bytes = std::uint64_t{1} << 31;
  // > 0: read only the header and the first max_records records (a gzip stream is decompressed only that far,
  // a raw file's size is still checked against its header); the rest of the file is not read.
  std::uint64_t max_records = 0;
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

// `max_records` > 0: only the first max_records of each (the files' headers must still agree on the count).
LabelledImages read_labelled_images(const std::string& images_path, const std::string& labels_path,
                                    int num_classes = 10, std::uint64_t max_records = 0);

}  // namespace lenet5::data
