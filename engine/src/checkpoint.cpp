#include "lenet5/engine/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <unistd.h>

namespace lenet5::engine {
namespace {

constexpr const char* kFormat = "lenet5-checkpoint-v1";

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

torch::serialize::InputArchive open_archive(const std::string& path, const torch::Device& device = torch::kCPU) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw CheckpointError(path + ": checkpoint not found");
  if (std::filesystem::is_directory(path, error)) throw CheckpointError(path + ": is a folder, expected a checkpoint file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": not a readable checkpoint (corrupt, truncated or another format): " +
                          first_line(e.what_without_backtrace()));
  }
  c10::IValue format;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat) {
    throw CheckpointError(path + ": not a lenet5 checkpoint (no '" + std::string(kFormat) + "' format tag)");
  }
  return archive;
}

}  // namespace

void save_checkpoint(const std::string& path, model::LeNet5& model, const torch::optim::Optimizer* optimizer,
                     const CheckpointInfo& info) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("variant", c10::IValue(model::variant_name(info.variant)));
  archive.write("dataset", c10::IValue(info.dataset));
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
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  try {
    archive.save_to(temporary);
  } catch (const c10::Error& e) {
    std::remove(temporary.c_str());
    throw CheckpointError(path + ": cannot write checkpoint: " + first_line(e.what_without_backtrace()));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved_errno = errno;
    std::remove(temporary.c_str());
    throw CheckpointError(path + ": cannot replace checkpoint: " + std::strerror(saved_errno));
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
    loaded.info.dataset = value.toStringRef();
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
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot restore the optimiser state: " + first_line(e.what_without_backtrace()));
  }
}

}  // namespace lenet5::engine
