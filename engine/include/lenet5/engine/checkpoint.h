// Training checkpoints: model weights, optimiser state, epoch and the run's configuration in one file,
// written atomically (temporary file + rename).
#pragma once

#include <torch/torch.h>

#include <stdexcept>
#include <string>

#include "lenet5/data/dataset_files.h"
#include "lenet5/model/lenet5.h"

namespace lenet5::engine {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A checkpoint's "format" entry: this prefix and its version ("lenet5-checkpoint-v2"). Other tools (export)
// tell a checkpoint from other files by it.
inline constexpr const char* kCheckpointFormatPrefix = "lenet5-checkpoint-";
bool is_checkpoint_format(const std::string& tag);  // any version

struct CheckpointInfo {
  model::Variant variant = model::Variant::kModern;
  data::DatasetKind dataset = data::DatasetKind::kMnist;
  int64_t epoch = 0;          // epochs completed
  double test_accuracy = -1;  // of this checkpoint's weights, when measured
  std::string config_json;    // the run's config.json
};

void save_checkpoint(const std::string& path, model::LeNet5& model, const torch::optim::Optimizer* optimizer,
                     const CheckpointInfo& info);

struct LoadedCheckpoint {
  CheckpointInfo info;
  model::LeNet5 model{nullptr};
};

// Loads on the CPU; throws CheckpointError naming the file when it is missing, corrupt or not ours.
LoadedCheckpoint load_checkpoint(const std::string& path);
// Restores the optimiser state saved with the checkpoint (its parameters must be the loaded model's).
void load_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer, const torch::Device& device);

}  // namespace lenet5::engine
