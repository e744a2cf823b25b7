#include <sstream>

#include "export_checks.h"
#include "lenet5/deploy/export.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/files/read.h"
#include "lenet5/text/printable.h"

namespace lenet5::deploy {
namespace {

bool is_checkpoint(const torch::jit::Module& module) {
  if (!module.hasattr("format")) return false;
  const auto format = module.attr("format");
  return format.isString() && engine::is_checkpoint_format(format.toStringRef());
}

// The module in `path`, on `device`, and the text of its metadata.json ("" when it has none).
torch::jit::Module read_module(const std::string& path, const torch::Device& device, std::string& metadata) {
  std::istringstream bytes;
  try {
    bytes.str(files::read_input(path, files::InputKind::kModel));  // once, and only a regular file
  } catch (const files::FileError& e) {
    throw DeployError(text::printable(e.what()));
  }
  torch::jit::ExtraFilesMap extra{{kMetadataFile, ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(bytes, device, extra);
  } catch (const std::exception& e) {
    throw DeployError(text::printable(path) +
                      ": not a readable TorchScript model (corrupt, truncated or another format): " + error_summary(e));
  }
  metadata = extra[kMetadataFile];
  return module;
}

ExportMetadata read_metadata(const torch::jit::Module& module, const std::string& text, const std::string& file) {
  if (text.empty()) {
    if (is_checkpoint(module)) {
      throw DeployError(file +
                        ": is a training checkpoint, not an exported model; export it first with "
                        "`lenet5 export --checkpoint " +
                        file + " --out MODEL.pt`");
    }
    throw DeployError(file + ": TorchScript file without lenet5's " + kMetadataFile +
                      " (not written by `lenet5 export`)");
  }
  try {
    return metadata_from_json(text);
  } catch (const DeployError& e) {
    throw DeployError(file + ": " + e.what());
  }
}

}  // namespace

ExportedModel load_exported(const std::string& path, const torch::Device& device) {
  const std::string file = text::printable(path);
  ExportedModel loaded;
  loaded.path = path;
  loaded.device = device;
  std::string metadata;
  loaded.module = read_module(path, device, metadata);
  loaded.metadata = read_metadata(loaded.module, metadata, file);
  if (!loaded.module.find_method("forward")) throw DeployError(file + ": the TorchScript module has no forward()");
  loaded.module.eval();
  detail::verify_digests(loaded);
  detail::run_self_test(loaded);
  return loaded;
}

}  // namespace lenet5::deploy
