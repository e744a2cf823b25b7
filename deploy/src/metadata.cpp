#include "lenet5/deploy/metadata.h"

#include <nlohmann/json.hpp>

#include "export_checks.h"
#include "lenet5/text/printable.h"

namespace lenet5::deploy {
namespace {
using nlohmann::json;
using text::first_line;
}  // namespace

ExportMetadata metadata_from_checkpoint(const engine::CheckpointInfo& info, const std::string& checkpoint_path) {
  ExportMetadata metadata;
  metadata.variant = info.variant;
  metadata.dataset = info.dataset;
  metadata.epoch = info.epoch;
  metadata.test_accuracy = info.test_accuracy;
  metadata.training_config = info.config_json;
  metadata.source = checkpoint_path;
  return metadata;
}

std::string metadata_to_json(const ExportMetadata& metadata) {
  json training = nullptr;
  if (!metadata.training_config.empty()) {
    training = json::parse(metadata.training_config, nullptr, /*allow_exceptions=*/false);
    if (training.is_discarded()) training = metadata.training_config;
  }
  json document{
      {"format", kExportFormat},
      {"variant", model::variant_name(metadata.variant)},
      {"dataset", data::dataset_kind_name(metadata.dataset)},
      {"class_names", metadata.class_names},
      {"input", metadata.input},
      {"output", metadata.output},
      {"epoch", metadata.epoch},
      {"test_accuracy", metadata.test_accuracy >= 0 ? json(metadata.test_accuracy) : json(nullptr)},
      {"optimized", metadata.optimized},
      {"optimization", metadata.optimization},
      {"source", metadata.source},
      {"training", training},
      {"versions", {{"lenet5", metadata.lenet5_version}, {"torch", metadata.torch_version}}},
      {"self_test",
       {{"input", "float32 [16,1,28,28]: frac(i * 0.6180339887498949) for pixel i = 0..12543, computed in float64"},
        {"scores", metadata.check_scores}}},
      {"tensor_digests", {{"algorithm", "crc32"}, {"tensors", json::array()}}},
  };
  auto& tensors = document["tensor_digests"]["tensors"];
  for (const auto& [name, digest] : metadata.tensor_digests) tensors.push_back({{"name", name}, {"crc32", digest}});
  return document.dump(2) + "\n";
}

namespace {

void read_self_test(const json& document, ExportMetadata& metadata) {
  const auto self_test = document.find("self_test");
  if (self_test != document.end() && self_test->is_object() && self_test->contains("scores")) {
    metadata.check_scores = self_test->at("scores").get<std::vector<float>>();
  }
}

void read_digests(const json& document, ExportMetadata& metadata) {
  const auto digests = document.find("tensor_digests");
  if (digests == document.end()) return;
  if (digests->at("algorithm").get<std::string>() != "crc32") {
    throw DeployError(std::string(kMetadataFile) + ": unknown digest algorithm '" +
                      text::printable(digests->at("algorithm").get<std::string>()) + "'");
  }
  for (const auto& tensor : digests->at("tensors")) {
    metadata.tensor_digests.emplace_back(tensor.at("name").get<std::string>(), tensor.at("crc32").get<std::string>());
  }
}

void read_provenance(const json& document, ExportMetadata& metadata) {
  metadata.source = document.value("source", "");
  const auto training = document.find("training");
  if (training != document.end() && !training->is_null()) {
    metadata.training_config = training->is_string() ? training->get<std::string>() : training->dump();
  }
  const auto versions = document.find("versions");
  if (versions != document.end() && versions->is_object()) {
    metadata.lenet5_version = versions->value("lenet5", "");
    metadata.torch_version = versions->value("torch", "");
  }
}

ExportMetadata read_metadata(const json& document) {
  if (!document.is_object() || document.value("format", "") != kExportFormat) {
    throw DeployError(std::string(kMetadataFile) + " is not lenet5's (no '" + kExportFormat + "' format tag)");
  }
  ExportMetadata metadata;
  metadata.variant = model::parse_variant(document.at("variant").get<std::string>());
  metadata.dataset = data::parse_dataset_kind(document.at("dataset").get<std::string>());
  metadata.class_names = document.at("class_names").get<std::vector<std::string>>();
  if (metadata.class_names.size() != static_cast<size_t>(model::kNumClasses)) {
    throw DeployError(std::string(kMetadataFile) + ": expected " + std::to_string(model::kNumClasses) +
                      " class names, found " + std::to_string(metadata.class_names.size()));
  }
  metadata.input = document.value("input", "");
  metadata.output = document.value("output", "");
  metadata.epoch = document.value("epoch", int64_t{0});
  const auto accuracy = document.find("test_accuracy");
  metadata.test_accuracy = accuracy != document.end() && accuracy->is_number() ? accuracy->get<double>() : -1.0;
  metadata.optimized = document.value("optimized", false);
  metadata.optimization = document.value("optimization", metadata.optimized ? "freeze" : "none");
  read_self_test(document, metadata);
  read_digests(document, metadata);
  read_provenance(document, metadata);
  return metadata;
}

}  // namespace

ExportMetadata metadata_from_json(const std::string& text) {
  try {
    return read_metadata(json::parse(text));
  } catch (const json::exception& e) {
    throw DeployError(std::string("damaged ") + kMetadataFile + ": " + first_line(e.what()));
  } catch (const std::invalid_argument& e) {
    throw DeployError(std::string("damaged ") + kMetadataFile + ": " + e.what());
  }
}

}  // namespace lenet5::deploy
