#include "lenet5/engine/checkpoint.h"

#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "lenet5/files/read.h"
#include "lenet5/files/write.h"
#include "lenet5/text/printable.h"

namespace lenet5::engine {
using text::first_line;
namespace {

// v2: the torch archive followed by a trailer with its size and CRC32, verified on load. v1 (no trailer)
// checkpoints still load, unverified.
const std::string kFormat = std::string(kCheckpointFormatPrefix) + "v2";
const std::string kUnverifiedFormat = std::string(kCheckpointFormatPrefix) + "v1";
// Trailer: magic, archive size (u64), CRC32 of the archive (u32), both little-endian.
constexpr std::array<char, 8> kTrailerMagic = {'L', 'N', '5', 'C', 'R', 'C', '3', '2'};
constexpr std::size_t kTrailerSize = 8 + 8 + 4;

std::uint32_t checksum(const std::string& bytes, std::size_t size) {
  return static_cast<std::uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), size));
}

void append_little_endian(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t read_little_endian(const char* in, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

torch::serialize::InputArchive open_archive(const std::string& path, const torch::Device& device = torch::kCPU) {
  std::string bytes;
  try {
    bytes = files::read_input(path, files::InputKind::kCheckpoint);
  } catch (const files::FileError& e) {
    throw CheckpointError(e.what());
  }

  std::size_t archive_size = bytes.size();
  const bool has_trailer = bytes.size() >= kTrailerSize &&
                           std::memcmp(bytes.data() + bytes.size() - kTrailerSize, kTrailerMagic.data(), 8) == 0;
  if (has_trailer) {
    archive_size = bytes.size() - kTrailerSize;
    const char* trailer = bytes.data() + archive_size;
    if (read_little_endian(trailer + 8, 8) != archive_size ||
        read_little_endian(trailer + 16, 4) != checksum(bytes, archive_size)) {
      throw CheckpointError(path + ": checksum mismatch (corrupt checkpoint)");
    }
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), archive_size, device);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": not a readable checkpoint (corrupt, truncated or another format): " +
                          first_line(e.what_without_backtrace()));
  }
  c10::IValue format;
  if (!archive.try_read("format", format) || !format.isString() ||
      (format.toStringRef() != kFormat && format.toStringRef() != kUnverifiedFormat)) {
    throw CheckpointError(path + ": not a lenet5 checkpoint (no '" + kFormat + "' format tag)");
  }
  if (format.toStringRef() == kFormat && !has_trailer) {
    throw CheckpointError(path + ": checksum missing (corrupt or truncated checkpoint)");
  }
  return archive;
}

}  // namespace

bool is_checkpoint_format(const std::string& tag) { return tag.rfind(kCheckpointFormatPrefix, 0) == 0; }

void save_checkpoint(const std::string& path, model::LeNet5& model, const torch::optim::Optimizer* optimizer,
                     const CheckpointInfo& info) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(kFormat));
  archive.write("variant", c10::IValue(model::variant_name(info.variant)));
  archive.write("dataset", c10::IValue(data::dataset_kind_name(info.dataset)));
  archive.write("epoch", c10::IValue(info.epoch));
  archive.write("test_accuracy", c10::IValue(info.test_accuracy));
  archive.write("config", c10::IValue(info.config_json));
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  // One file, written whole through a temporary file and a rename: after a crash at any moment the path
  // holds either the previous checkpoint or this one, each with a matching checksum.
  std::string bytes;
  try {
    archive.save_to([&bytes](const void* data, std::size_t size) {
      bytes.append(static_cast<const char*>(data), size);
      return size;
    });
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot write checkpoint: " + first_line(e.what_without_backtrace()));
  }
  const std::uint32_t crc = checksum(bytes, bytes.size());
  const std::uint64_t archive_size = bytes.size();
  bytes.append(kTrailerMagic.data(), kTrailerMagic.size());
  append_little_endian(bytes, archive_size, 8);
  append_little_endian(bytes, crc, 4);
  try {
    files::write_file_atomically(path, bytes);
  } catch (const files::FileError& e) {
    throw CheckpointError(e.what());
  }
}

LoadedCheckpoint load_checkpoint(const std::string& path) {
  auto archive = open_archive(path);
  LoadedCheckpoint loaded;
  try {
    c10::IValue value;
    archive.read("variant", value);
    loaded.info.variant = model::parse_variant(value.toStringRef());
    archive.read("dataset", value);
    loaded.info.dataset = data::parse_dataset_kind(value.toStringRef());
    archive.read("epoch", value);
    loaded.info.epoch = value.toInt();
    archive.read("test_accuracy", value);
    loaded.info.test_accuracy = value.toDouble();
    archive.read("config", value);
    loaded.info.config_json = value.toStringRef();
    loaded.model = model::LeNet5(loaded.info.variant);
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    loaded.model->load(model_archive);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": damaged checkpoint: " + first_line(e.what_without_backtrace()));
  } catch (const std::invalid_argument& e) {
    throw CheckpointError(path + ": damaged checkpoint: " + e.what());
  }
  return loaded;
}

void load_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer, const torch::Device& device) {
  auto archive = open_archive(path, device);
  try {
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error&) {
    // LibTorch's text here is an internal assert ("please report a bug to PyTorch"): not the user's news.
    throw CheckpointError(path +
                          ": its optimiser state does not fit this run's optimiser (saved by another "
                          "optimiser, or damaged)");
  }
}

}  // namespace lenet5::engine
