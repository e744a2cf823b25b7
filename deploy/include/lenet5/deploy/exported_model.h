// An exported model loaded back: checked against its digests and self-test, then served through an
// InferenceSession (predict.h classifies pictures with it).
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <memory>
#include <string>

#include "lenet5/deploy/metadata.h"
#include "lenet5/deploy/session.h"

namespace lenet5::deploy {

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
