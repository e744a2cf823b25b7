// TorchScript export of a trained LeNet5: a self-contained torch::jit::Module, loadable with
// torch::jit::load in C++ and torch.jit.load in Python without this project's code, plus metadata.json
// (variant, dataset, class names, accuracy, training config) stored in the same archive.
//
// Contract: forward(x) with x float32 [N,1,28,28], pixel values in [0,1], ink high (as in MNIST) returns
// scores [N,10], higher = more likely (softmax gives probabilities). The variant's preprocessing (padding,
// normalisation) happens inside forward.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "lenet5/deploy/session.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/model/lenet5.h"

namespace lenet5::deploy {

class DeployError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The extra file inside the TorchScript archive that holds ExportMetadata as JSON.
inline constexpr const char* kMetadataFile = "metadata.json";
inline constexpr const char* kExportFormat = "lenet5-torchscript-v1";
inline constexpr const char* kInputContract =
    "float32 [N,1,28,28], pixel values in [0,1], ink high on a zero background (as in MNIST); "
    "all preprocessing (padding, normalisation) happens inside forward";
inline constexpr const char* kOutputContract =
    "float32 [N,10] scores, higher = more likely; softmax(scores, dim=1) gives class probabilities";

// CRC-32 of each tensor's bytes, keyed by name in the module's order: parameters and buffers by their names,
// the constants of a frozen module as "constant N". Torch archives are read without checking their own CRCs.
using TensorDigests = std::vector<std::pair<std::string, std::string>>;
TensorDigests tensor_digests(const torch::jit::Module& module);

struct ExportMetadata {
  model::Variant variant = model::Variant::kModern;
  std::string dataset = "mnist";
  std::vector<std::string> class_names;  // empty on export: the dataset's
  int64_t epoch = 0;                     // training epochs completed
  double test_accuracy = -1;             // in [0,1]; negative when unknown
  std::string training_config;           // the run's config.json; empty when unknown
  std::string source;                    // checkpoint the model came from
  // Written by export_torchscript (the values passed in are ignored), read back by load_exported.
  bool optimized = false;
  std::string optimization;        // "none", "freeze" or "freeze+optimize_for_inference"
  std::vector<float> check_scores;  // the module's scores for check_batch(), [16*10]
  TensorDigests tensor_digests;     // of the module as loaded; empty in files exported before they existed
  std::string input;
  std::string output;
  std::string torch_version;
  std::string lenet5_version;
};

ExportMetadata metadata_from_checkpoint(const engine::CheckpointInfo& info, const std::string& checkpoint_path);

std::string metadata_to_json(const ExportMetadata& metadata);
// Throws DeployError when the text is not JSON or lacks a field (format, variant, dataset, class_names).
ExportMetadata metadata_from_json(const std::string& text);

// A fixed batch of 16 images in [0,1) that needs no random generator: frac(i * golden ratio) for the i-th
// pixel. Its scores, recorded at export, let a loader detect a corrupt file (torch archives carry no checksum).
torch::Tensor check_batch();

// The model as a scripted module: its trained tensors copied to the CPU (classic C3 as its dense kernel with
// zeros for absent connections) and a forward written in TorchScript. In eval mode.
torch::jit::Module to_torchscript(model::LeNet5& model);

struct ExportReport {
  int64_t bytes = 0;
  std::string optimization;  // as recorded in the metadata: "none", "freeze" or "freeze+optimize_for_inference"
  double max_abs_diff = 0;  // between the exported module and the eager model on a fixed check batch
};

// Writes the model and metadata to `out_path` atomically (temporary file + rename), creating the folder.
// `optimize`: freeze (weights become graph constants; numerics preserved) and, where the result can be saved
// and loaded again, optimize_for_inference (LibTorch 1.13 cannot reload the MKLDNN constants it creates, so
// there the frozen module is saved). Verifies that the module reproduces the eager model's scores before
// writing; throws DeployError naming the file otherwise.
ExportReport export_torchscript(model::LeNet5& model, const ExportMetadata& metadata, const std::string& out_path,
                                bool optimize);

struct ExportedModel {
  std::string path;           // the file, named in errors
  torch::jit::Module module;  // as loaded
  ExportMetadata metadata;
  torch::Device device = torch::kCPU;
  std::shared_ptr<InferenceSession> session;  // the module compiled for serving, built by the first forward()

  // Scores through the compiled session (same numbers as the module's forward, to float rounding). Throws
  // DeployError naming the file when the model fails, returns another shape or non-finite scores.
  torch::Tensor forward(const torch::Tensor& images);
};

// Loads an exported model onto `device`, verifies every tensor against the digests recorded at export, checks
// that forward maps check_batch() to finite float scores [16,10] and runs the self-test (those scores against
// the ones recorded). A missing, truncated or corrupt file, a file that is not TorchScript or not ours (a
// training checkpoint, say), a model that raises, returns a tuple or another shape, throws DeployError with
// one line starting with the path. Files without digests (exported before they existed) load with a warning.
ExportedModel load_exported(const std::string& path, const torch::Device& device = torch::kCPU);

}  // namespace lenet5::deploy
