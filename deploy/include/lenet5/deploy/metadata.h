// What an exported model carries besides its tensors: metadata.json inside the TorchScript archive (variant,
// dataset, class names, accuracy, training config, the self-test scores and the tensor digests).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lenet5/data/dataset_files.h"
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

struct ExportMetadata {
  model::Variant variant = model::Variant::kModern;
  data::DatasetKind dataset = data::DatasetKind::kMnist;
  std::vector<std::string> class_names;  // empty on export: the dataset's
  int64_t epoch = 0;                     // training epochs completed
  double test_accuracy = -1;             // in [0,1]; negative when unknown
  std::string training_config;           // the run's config.json; empty when unknown
  std::string source;                    // checkpoint the model came from
  // Written by export_torchscript (the values passed in are ignored), read back by load_exported.
  bool optimized = false;
  std::string optimization;         // "none", "freeze" or "freeze+optimize_for_inference"
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

}  // namespace lenet5::deploy
