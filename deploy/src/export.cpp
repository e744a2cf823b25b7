#include "lenet5/deploy/export.h"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <vector>

#include "export_checks.h"
#include "lenet5/data/mnist_dataset.h"
#include "lenet5/engine/device.h"
#include "lenet5/files/read.h"
#include "lenet5/files/write.h"
#include "lenet5/text/printable.h"
#include "lenet5/version.h"

namespace lenet5::deploy {
namespace {
namespace fs = std::filesystem;
using detail::max_abs;
using text::first_line;

torch::Tensor scores_of(torch::jit::Module& module, const torch::Tensor& images) {
  auto output = module.forward({images});
  if (!output.isTensor()) throw DeployError("forward did not return a tensor");
  return output.toTensor();
}

// freeze keeps the numerics (optimize_numerics=false folds nothing into the convolutions); the result of
// optimize_for_inference is used only when it survives a save/load round trip, and `why_not` says why not.
torch::jit::Module optimize_module(torch::jit::Module& module, std::string& optimization, std::string& why_not) {
  torch::jit::Module frozen = torch::jit::freeze(module, {}, /*optimize_numerics=*/false);
  optimization = "freeze";
  try {
    torch::jit::Module candidate = torch::jit::optimize_for_inference(module);  // freezes its own copy
    std::stringstream buffer;
    candidate.save(buffer);
    torch::jit::load(buffer);
    optimization = "freeze+optimize_for_inference";
    return candidate;
  } catch (const std::exception& e) {
    why_not = "optimize_for_inference's module not kept (it does not save and load again: " + error_summary(e) +
              "); saved the frozen one";
    return frozen;
  }
}

torch::jit::Module load_from_bytes(const std::string& bytes) {
  std::istringstream in(bytes);
  return torch::jit::load(in);
}

// The metadata as stored: what the caller gave, completed with what export decides.
ExportMetadata stored_metadata(model::LeNet5& model, const ExportMetadata& metadata, bool optimize) {
  ExportMetadata stored = metadata;
  stored.variant = model->variant();
  if (stored.class_names.empty()) stored.class_names = data::class_names(stored.dataset);
  stored.optimized = optimize;
  stored.input = kInputContract;
  stored.output = kOutputContract;
  stored.torch_version = engine::torch_version();
  stored.lenet5_version = kVersion;
  stored.optimization = "none";
  return stored;
}

// The scripted module's scores on the check batch, once they agree with the eager model's; the largest
// difference goes to `max_abs_diff`.
std::vector<float> checked_against_eager(model::LeNet5& model, torch::jit::Module& module, const std::string& out_path,
                                         double& max_abs_diff) {
  c10::InferenceMode inference;
  const auto images = check_batch();
  const auto device = model->parameters().front().device();
  const bool was_training = model->is_training();
  model->eval();
  const auto expected = model->forward(images.to(device)).to(torch::kCPU);
  model->train(was_training);
  const auto actual = scores_of(module, images).contiguous();
  max_abs_diff = max_abs(actual - expected);
  const double tolerance = 1e-4 * std::max(1.0, max_abs(expected));
  if (!(max_abs_diff <= tolerance)) {
    throw DeployError(out_path + ": the scripted model disagrees with the trained model (max score difference " +
                      std::to_string(max_abs_diff) + "); nothing written");
  }
  return {actual.data_ptr<float>(), actual.data_ptr<float>() + actual.numel()};
}

std::string serialised(torch::jit::Module& module, const ExportMetadata& stored, const std::string& out_path) {
  std::ostringstream archive;
  try {
    module.save(archive, {{kMetadataFile, metadata_to_json(stored)}});
  } catch (const c10::Error& e) {
    throw DeployError(out_path + ": cannot serialise the model: " + first_line(e.what_without_backtrace()));
  }
  return archive.str();
}

// The archive's bytes with the digests of the module as a loader sees it (a frozen module's constants are
// rebuilt from the archive), checked once more on the final bytes.
std::string archive_with_digests(torch::jit::Module& module, ExportMetadata& stored, const std::string& out_path) {
  stored.tensor_digests = tensor_digests(load_from_bytes(serialised(module, stored, out_path)));
  std::string bytes = serialised(module, stored, out_path);
  if (tensor_digests(load_from_bytes(bytes)) != stored.tensor_digests) {
    throw DeployError(out_path + ": the saved tensors do not reproduce their digests; nothing written");
  }
  return bytes;
}

void write_archive(const std::string& out_path, const std::string& bytes, const std::string& source) {
  std::error_code error;
  const fs::path parent = fs::path(out_path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, error);
    if (error) throw DeployError(out_path + ": cannot create folder " + parent.string() + ": " + error.message());
  }
  try {
    files::check_output_path(out_path, {source});
    files::write_file_atomically(out_path, bytes);
  } catch (const files::FileError& e) {
    throw DeployError(e.what());
  }
}

}  // namespace

ExportReport export_torchscript(model::LeNet5& model, const ExportMetadata& metadata, const std::string& out_path,
                                bool optimize) {
  // Before any work: the output must not be the checkpoint it comes from, a device or a folder.
  try {
    files::check_output_path(out_path, {metadata.source});
  } catch (const files::FileError& e) {
    throw DeployError(e.what());
  }
  ExportMetadata stored = stored_metadata(model, metadata, optimize);
  ExportReport report;
  torch::jit::Module module = to_torchscript(model);
  if (optimize) module = optimize_module(module, stored.optimization, report.optimization_note);
  stored.check_scores = checked_against_eager(model, module, out_path, report.max_abs_diff);
  const std::string bytes = archive_with_digests(module, stored, out_path);
  write_archive(out_path, bytes, metadata.source);
  report.bytes = static_cast<int64_t>(bytes.size());
  report.optimization = stored.optimization;
  return report;
}

}  // namespace lenet5::deploy
