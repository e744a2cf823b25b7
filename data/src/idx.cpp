#include "lenet5/data/idx.h"

#include <zlib.h>

#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>

#include "lenet5/data/memory.h"
#include "lenet5/files/read.h"

namespace lenet5::data {
namespace {

constexpr std::size_t kMagicBytes = 4;
constexpr std::uint8_t kUnsignedByteType = 0x08;

const char* kind_name(IdxKind kind) { return kind == IdxKind::kImages ? "images" : "labels"; }
std::size_t expected_rank(IdxKind kind) { return kind == IdxKind::kImages ? 3 : 1; }

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
  return text;
}

std::uint32_t read_big_endian32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

[[noreturn]] void fail(const std::string& name, const std::string& what) { throw IdxError(name + ": " + what); }

// A forward-only byte stream: memory or a (possibly gzipped) file.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `size` bytes; returns how many were read (0 at the end). Throws IdxError on a read error.
  virtual std::size_t read(std::uint8_t* out, std::size_t size) = 0;
  // What the stream can still deliver, when known (raw files and memory); nothing for gzip streams.
  virtual std::optional<std::uint64_t> known_remaining() const { return std::nullopt; }
};

class MemorySource : public ByteSource {
 public:
  MemorySource(const std::uint8_t* bytes, std::size_t size) : bytes_(bytes), size_(size) {}
  std::size_t read(std::uint8_t* out, std::size_t size) override {
    const std::size_t n = std::min(size, size_ - offset_);
    if (n > 0) std::memcpy(out, bytes_ + offset_, n);
    offset_ += n;
    return n;
  }
  std::optional<std::uint64_t> known_remaining() const override { return size_ - offset_; }

 private:
  const std::uint8_t* bytes_;
  std::size_t size_;
  std::size_t offset_ = 0;
};

// zlib's gzread reads gzip streams and, transparently, uncompressed files.
class GzFileSource : public ByteSource {
 public:
  explicit GzFileSource(const std::string& path) : path_(path) {
    std::uint64_t size = 0;
    int fd = -1;
    try {
      files::InputFile input(path, files::InputKind::kIdx);
      size = input.size();
      fd = input.release();
    } catch (const files::FileError& e) {
      throw IdxError(e.what());
    }
    file_ = gzdopen(fd, "rb");
    if (file_ == nullptr) {
      ::close(fd);
      fail(path, "cannot open: out of memory");
    }
    gzbuffer(file_, 1 << 17);
    compressed_ = gzdirect(file_) == 0;
    if (!compressed_) remaining_ = size;
  }
  ~GzFileSource() override { gzclose(file_); }
  GzFileSource(const GzFileSource&) = delete;
  GzFileSource& operator=(const GzFileSource&) = delete;

  std::size_t read(std::uint8_t* out, std::size_t size) override {
    std::size_t total = 0;
    while (total < size) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(size - total, 1u << 30));
      const int n = gzread(file_, out + total, chunk);
      if (n < 0 || (n == 0 && !gzeof(file_))) {
        int code = Z_OK;
        gzerror(file_, &code);
        fail(path_, std::string(code == Z_DATA_ERROR ? "corrupt gzip data: " : "read error: ") + error_text());
      }
      if (n == 0) {
        int code = Z_OK;
        gzerror(file_, &code);
        // A gzip stream that stops before its end-of-stream marker is reported as Z_BUF_ERROR.
        if (code != Z_OK) fail(path_, std::string("corrupt or truncated gzip data: ") + error_text());
        break;
      }
      total += static_cast<std::size_t>(n);
    }
    if (!compressed_) remaining_ -= std::min<std::uint64_t>(remaining_, total);
    return total;
  }
  std::optional<std::uint64_t> known_remaining() const override {
    return compressed_ ? std::nullopt : std::optional<std::uint64_t>(remaining_);
  }

 private:
  std::string error_text() {
    int code = Z_OK;
    const char* text = gzerror(file_, &code);
    if (code == Z_ERRNO) return std::strerror(errno);
    return text != nullptr && *text ? text : "unknown zlib error";
  }

  std::string path_;
  gzFile file_ = nullptr;
  bool compressed_ = false;
  std::uint64_t remaining_ = 0;
};

void read_exactly(ByteSource& source, std::uint8_t* out, std::size_t size, const std::string& name, const char* what) {
  const std::size_t got = source.read(out, size);
  if (got != size) {
    std::ostringstream message;
    message << "truncated " << what << ": expected " << size << " bytes, found " << got;
    fail(name, message.str());
  }
}

void read_payload(ByteSource& source, std::vector<std::uint8_t>& values, std::uint64_t payload, bool size_known,
                  const std::string& name) {
  constexpr std::size_t kChunk = std::size_t{1} << 22;
  values.reserve(size_known ? static_cast<std::size_t>(payload) : std::min<std::size_t>(payload, kChunk));
  while (values.size() < payload) {
    const std::size_t offset = values.size();
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(payload - offset, kChunk));
    values.resize(offset + want);
    const std::size_t got_now = source.read(values.data() + offset, want);
    if (got_now != want) {
      fail(name, "truncated data: header promises " + std::to_string(payload) + " bytes, found " +
                     std::to_string(offset + got_now));
    }
  }
}

IdxArray parse(ByteSource& source, IdxKind expected, const std::string& name, const IdxLimits& limits) {
  std::uint8_t magic[kMagicBytes];
  const std::size_t got = source.read(magic, kMagicBytes);
  if (got == 0) fail(name, "file is empty, expected an IDX " + std::string(kind_name(expected)) + " file");
  if (got < kMagicBytes) fail(name, "truncated header: expected 4 magic bytes, found " + std::to_string(got));

  const std::uint32_t magic_number = read_big_endian32(magic);
  if (magic[0] != 0 || magic[1] != 0) {
    fail(name, "wrong magic number: expected " + hex32(static_cast<std::uint32_t>(expected)) + " (IDX " +
                   kind_name(expected) + "), found " + hex32(magic_number) + " (not an IDX file)");
  }
  if (magic[2] != kUnsignedByteType) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", magic[2]);
    fail(name, std::string("unsupported element type ") + type + ": expected 0x08 (unsigned byte)");
  }
  const std::size_t rank = magic[3];
  if (magic_number != static_cast<std::uint32_t>(expected)) {
    const bool other_kind = rank == expected_rank(expected == IdxKind::kImages ? IdxKind::kLabels : IdxKind::kImages);
    fail(name, "wrong magic number: expected " + hex32(static_cast<std::uint32_t>(expected)) + " (IDX " +
                   kind_name(expected) + "), found " + hex32(magic_number) +
                   (other_kind ? std::string(" (IDX ") + (expected == IdxKind::kImages ? "labels" : "images") + ")"
                               : std::string(" (") + std::to_string(rank) + " dimensions)"));
  }

  IdxArray array;
  std::uint8_t dim_bytes[4 * 3];
  read_exactly(source, dim_bytes, 4 * rank, name, "header");
  std::uint64_t payload = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    const std::uint32_t dim = read_big_endian32(dim_bytes + 4 * i);
    if (dim == 0) fail(name, "dimension " + std::to_string(i) + " is 0, expected a positive size");
    payload *= dim;  // at most 3 factors below 2^32 after the check below: no overflow
    if (payload > limits.max_payload_bytes) {
      fail(name, "header claims an absurd size (dimension " + std::to_string(i) + " = " + std::to_string(dim) +
                     "): more than " + std::to_string(limits.max_payload_bytes) + " bytes of data");
    }
    array.dims.push_back(dim);
  }

  // Never trust the header with an allocation the data cannot back: for raw input the remaining size is
  // known; gzip input grows the buffer only as real data arrives.
  const std::optional<std::uint64_t> remaining = source.known_remaining();
  if (remaining && *remaining < payload) {
    fail(name, "truncated data: header promises " + std::to_string(payload) + " bytes, file holds " +
                   std::to_string(*remaining));
  }
  array.records_in_file = array.dims[0];
  const bool limited = limits.max_records > 0 && limits.max_records < array.dims[0];
  if (limited) {
    const std::uint64_t record = payload / array.dims[0];
    array.dims[0] = static_cast<std::uint32_t>(limits.max_records);
    payload = record * limits.max_records;
  }
  constexpr std::uint64_t kSmall = std::uint64_t{64} << 20;  // below this, not worth asking the system
  if (payload > kSmall) require_memory(name, payload, "reading its " + std::to_string(array.dims[0]) + " records");
  read_payload(source, array.values, payload, remaining.has_value(), name);
  if (limited) return array;  // the rest of the file is deliberately left unread
  std::uint8_t extra[256];
  const std::size_t trailing = source.read(extra, sizeof extra);
  if (trailing != 0) {
    fail(name, "trailing bytes after the data: header promises " + std::to_string(payload) +
                   " bytes, file holds at least " + std::to_string(payload + trailing));
  }
  return array;
}

}  // namespace

IdxArray parse_idx(const std::uint8_t* bytes, std::size_t size, IdxKind expected, const std::string& name,
                   const IdxLimits& limits) {
  MemorySource source(bytes, size);
  return parse(source, expected, name, limits);
}

IdxArray read_idx_file(const std::string& path, IdxKind expected, const IdxLimits& limits) {
  GzFileSource source(path);
  return parse(source, expected, path, limits);
}

LabelledImages read_labelled_images(const std::string& images_path, const std::string& labels_path, int num_classes,
                                    std::uint64_t max_records) {
  IdxLimits limits;
  limits.max_records = max_records;
  LabelledImages set{read_idx_file(images_path, IdxKind::kImages, limits),
                     read_idx_file(labels_path, IdxKind::kLabels, limits)};
  if (set.images.records_in_file != set.labels.records_in_file) {
    fail(labels_path, "holds " + std::to_string(set.labels.records_in_file) + " labels, but " + images_path +
                          " holds " + std::to_string(set.images.records_in_file) + " images");
  }
  const auto bad = std::find_if(set.labels.values.begin(), set.labels.values.end(),
                                [&](std::uint8_t label) { return label >= num_classes; });
  if (bad != set.labels.values.end()) {
    fail(labels_path, "label " + std::to_string(*bad) + " at index " + std::to_string(bad - set.labels.values.begin()) +
                          " is out of range: expected 0.." + std::to_string(num_classes - 1));
  }
  return set;
}

}  // namespace lenet5::data
