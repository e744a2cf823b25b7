#include "lenet5/deploy/export.h"

#include <nlohmann/json.hpp>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <locale>
#include <sstream>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/deploy/printable.h"
#include "lenet5/engine/device.h"
#include "lenet5/files/read.h"
#include "lenet5/files/write.h"

namespace lenet5::deploy {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

using model::kClassicBackground;
using model::kClassicInkRange;
using model::kMnistMean;
using model::kMnistStd;
using model::kSquashAmplitude;
using model::kSquashSlope;

constexpr const char* kCheckpointFormatPrefix = "lenet5-checkpoint-";
constexpr int64_t kCheckImages = 16;
constexpr double kGoldenRatioFraction = 0.6180339887498949;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string number(double value) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::setprecision(17) << value;
  std::string text = out.str();
  if (text.find_first_of(".e") == std::string::npos) text += ".0";  // a float literal for TorchScript
  return text;
}

// TorchScript source of forward for each variant; the same aten ops in the same order as the eager model,
// so the exported scores match it to the last bit on the same device.
std::string forward_source(model::Variant variant) {
  const std::string guard =
      "    assert x.dim() == 4 and x.size(1) == 1 and x.size(2) == 28 and x.size(3) == 28, "
      "\"LeNet-5 expects float32 [N,1,28,28] with pixel values in [0,1]\"\n";
  const std::string squash_open = "torch.tanh((";
  const std::string squash_close = ") * " + number(kSquashSlope) + ") * " + number(kSquashAmplitude);
  auto squash = [&](const std::string& inner) { return squash_open + inner + squash_close; };
  auto conv = [](const std::string& layer, int padding) {
    const std::string p = std::to_string(padding);
    return "torch.conv2d(x, self." + layer + "_weight, self." + layer + "_bias, [1, 1], [" + p + ", " + p +
           "], [1, 1], 1)";
  };
  std::ostringstream src;
  src << "def forward(self, x: Tensor) -> Tensor:\n" << guard;
  if (variant == model::Variant::kClassic) {
    auto subsampling = [&](const std::string& layer) {
      return "    x = torch.avg_pool2d(x, [2, 2], [2, 2]) * 4.0\n    x = " +
             squash("x * self." + layer + "_weight.view([1, -1, 1, 1]) + self." + layer +
                    "_bias.view([1, -1, 1, 1])") +
             "\n";
    };
    src << "    x = torch.constant_pad_nd(x, [2, 2, 2, 2], 0.0) * " << number(kClassicInkRange) << " + "
        << number(kClassicBackground) << "\n"
        << "    x = " << squash(conv("C1", 0)) << "\n"
        << subsampling("S2") << "    x = " << squash(conv("C3", 0)) << "\n"
        << subsampling("S4") << "    x = " << squash(conv("C5", 0)) << "\n"
        << "    x = " << squash("torch.linear(torch.flatten(x, 1), self.F6_weight, self.F6_bias)") << "\n"
        << "    return -torch.sum(torch.pow(x.unsqueeze(1) - self.output_prototypes.unsqueeze(0), 2), [2])\n";
  } else {
    const std::string pool = "    x = torch.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], False)\n";
    src << "    x = (x - " << number(kMnistMean) << ") / " << number(kMnistStd) << "\n"
        << "    x = torch.relu(" << conv("C1", 2) << ")\n"
        << pool << "    x = torch.relu(" << conv("C3", 0) << ")\n"
        << pool << "    x = torch.relu(" << conv("C5", 0) << ")\n"
        << "    x = torch.relu(torch.linear(torch.flatten(x, 1), self.F6_weight, self.F6_bias))\n"
        << "    return torch.linear(x, self.output_weight, self.output_bias)\n";
  }
  return src.str();
}

torch::Tensor scores_of(torch::jit::Module& module, const torch::Tensor& images) {
  auto output = module.forward({images});
  if (!output.isTensor()) throw DeployError("forward did not return a tensor");
  return output.toTensor();
}

bool is_checkpoint(const torch::jit::Module& module) {
  if (!module.hasattr("format")) return false;
  const auto format = module.attr("format");
  return format.isString() && format.toStringRef().rfind(kCheckpointFormatPrefix, 0) == 0;
}

double max_abs(const torch::Tensor& tensor) { return tensor.abs().max().item<double>(); }

// freeze keeps the numerics (optimize_numerics=false folds nothing into the convolutions); the result of
// optimize_for_inference is used only when it survives a save/load round trip.
torch::jit::Module optimize_module(torch::jit::Module& module, std::string& optimization) {
  torch::jit::Module frozen = torch::jit::freeze(module, {}, /*optimize_numerics=*/false);
  optimization = "freeze";
  try {
    torch::jit::Module candidate = torch::jit::optimize_for_inference(module);  // freezes its own copy
    std::stringstream buffer;
    candidate.save(buffer);
    torch::jit::load(buffer);
    optimization = "freeze+optimize_for_inference";
    return candidate;
  } catch (const std::exception&) {
    return frozen;
  }
}

std::string crc32_hex(const torch::Tensor& tensor) {
  const auto bytes = tensor.detach().to(torch::kCPU).contiguous();
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* data = static_cast<const Bytef*>(bytes.data_ptr());
  for (size_t left = bytes.nbytes(); left > 0;) {  // crc32 takes at most 4 GiB at a time
    const auto n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, data, n);
    data += n, left -= n;
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc));
  return hex;
}

// The tensors a frozen module holds in its graph, in graph order.
void add_constant_digests(const torch::jit::Block* block, TensorDigests& digests, int& count) {
  for (const torch::jit::Node* node : block->nodes()) {
    if (node->kind() == c10::prim::Constant && node->output()->type()->kind() == c10::TypeKind::TensorType) {
      const auto value = torch::jit::toIValue(node->output());
      if (value && value->isTensor()) {
        digests.emplace_back("constant " + std::to_string(count++), crc32_hex(value->toTensor()));
      }
    }
    for (const torch::jit::Block* inner : node->blocks()) add_constant_digests(inner, digests, count);
  }
}

// The first difference between the digests recorded at export and those of the loaded module, or "".
std::string first_difference(const TensorDigests& recorded, const TensorDigests& actual) {
  for (size_t i = 0; i < actual.size(); ++i) {
    if (i >= recorded.size() || recorded[i].first != actual[i].first) {
      return "tensor '" + printable(actual[i].first) + "' has no digest recorded at export";
    }
    if (recorded[i].second != actual[i].second) {
      return "tensor '" + printable(actual[i].first) + "' differs from the digest recorded at export (crc32 " +
             actual[i].second + ", recorded " + printable(recorded[i].second) + ")";
    }
  }
  if (recorded.size() > actual.size()) {
    return "tensor '" + printable(recorded[actual.size()].first) + "' recorded at export is missing";
  }
  return "";
}

torch::jit::Module load_from_bytes(const std::string& bytes) {
  std::istringstream in(bytes);
  return torch::jit::load(in);
}

}  // namespace

TensorDigests tensor_digests(const torch::jit::Module& module) {
  TensorDigests digests;
  for (const auto& parameter : module.named_parameters()) digests.emplace_back(parameter.name, crc32_hex(parameter.value));
  for (const auto& buffer : module.named_buffers()) digests.emplace_back(buffer.name, crc32_hex(buffer.value));
  int constants = 0;
  if (const auto forward = module.find_method("forward")) {
    add_constant_digests(forward->graph()->block(), digests, constants);
  }
  return digests;
}

torch::Tensor check_batch() {
  return (torch::arange(kCheckImages * model::kImageSide * model::kImageSide, torch::kFloat64) * kGoldenRatioFraction)
      .frac()
      .to(torch::kFloat32)
      .view({kCheckImages, 1, model::kImageSide, model::kImageSide});
}

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
      {"dataset", metadata.dataset},
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

ExportMetadata metadata_from_json(const std::string& text) {
  ExportMetadata metadata;
  try {
    const json document = json::parse(text);
    if (!document.is_object() || document.value("format", "") != kExportFormat) {
      throw DeployError(std::string(kMetadataFile) + " is not lenet5's (no '" + kExportFormat + "' format tag)");
    }
    metadata.variant = model::parse_variant(document.at("variant").get<std::string>());
    metadata.dataset = document.at("dataset").get<std::string>();
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
    const auto self_test = document.find("self_test");
    if (self_test != document.end() && self_test->is_object() && self_test->contains("scores")) {
      metadata.check_scores = self_test->at("scores").get<std::vector<float>>();
    }
    const auto digests = document.find("tensor_digests");
    if (digests != document.end()) {
      if (digests->at("algorithm").get<std::string>() != "crc32") {
        throw DeployError(std::string(kMetadataFile) + ": unknown digest algorithm '" +
                          printable(digests->at("algorithm").get<std::string>()) + "'");
      }
      for (const auto& tensor : digests->at("tensors")) {
        metadata.tensor_digests.emplace_back(tensor.at("name").get<std::string>(), tensor.at("crc32").get<std::string>());
      }
    }
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
  } catch (const json::exception& e) {
    throw DeployError(std::string("damaged ") + kMetadataFile + ": " + first_line(e.what()));
  } catch (const std::invalid_argument& e) {
    throw DeployError(std::string("damaged ") + kMetadataFile + ": " + e.what());
  }
  return metadata;
}

torch::jit::Module to_torchscript(model::LeNet5& model) {
  torch::NoGradGuard no_grad;
  const auto variant = model->variant();
  const bool classic = variant == model::Variant::kClassic;
  torch::jit::Module module(classic ? "__torch__.lenet5.LeNet5Classic" : "__torch__.lenet5.LeNet5Modern");
  module.register_attribute("training", c10::BoolType::get(), false);
  for (const auto& tensor : model->dense_tensors()) {  // "C1.weight" -> attribute C1_weight
    std::string name = tensor.name;
    std::replace(name.begin(), name.end(), '.', '_');
    module.register_parameter(name, tensor.value.detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous),
                              /*is_buffer=*/!tensor.trainable);
  }
  module.define(forward_source(variant));
  return module;
}

ExportReport export_torchscript(model::LeNet5& model, const ExportMetadata& metadata, const std::string& out_path,
                                bool optimize) {
  // Before any work: the output must not be the checkpoint it comes from, a device or a folder.
  try {
    files::check_output_path(out_path, {metadata.source});
  } catch (const files::FileError& e) {
    throw DeployError(e.what());
  }
  ExportMetadata stored = metadata;
  stored.variant = model->variant();
  if (stored.class_names.empty()) stored.class_names = data::class_names(data::parse_dataset_kind(stored.dataset));
  stored.optimized = optimize;
  stored.input = kInputContract;
  stored.output = kOutputContract;
  stored.torch_version = engine::torch_version();
  stored.lenet5_version = LENET5_VERSION;

  torch::jit::Module module = to_torchscript(model);
  stored.optimization = "none";
  if (optimize) module = optimize_module(module, stored.optimization);

  ExportReport report;
  {
    c10::InferenceMode inference;
    const auto images = check_batch();
    const auto device = model->parameters().front().device();
    const bool was_training = model->is_training();
    model->eval();
    const auto expected = model->forward(images.to(device)).to(torch::kCPU);
    model->train(was_training);
    const auto actual = scores_of(module, images).contiguous();
    report.max_abs_diff = max_abs(actual - expected);
    const double tolerance = 1e-4 * std::max(1.0, max_abs(expected));
    if (!(report.max_abs_diff <= tolerance)) {
      throw DeployError(out_path + ": the scripted model disagrees with the trained model (max score difference " +
                        std::to_string(report.max_abs_diff) + "); nothing written");
    }
    stored.check_scores.assign(actual.data_ptr<float>(), actual.data_ptr<float>() + actual.numel());
  }

  auto serialise = [&] {
    std::ostringstream archive;
    try {
      module.save(archive, {{kMetadataFile, metadata_to_json(stored)}});
    } catch (const c10::Error& e) {
      throw DeployError(out_path + ": cannot serialise the model: " + first_line(e.what_without_backtrace()));
    }
    return archive.str();
  };
  // Digests of the module as a loader sees it (a frozen module's constants are rebuilt from the archive).
  stored.tensor_digests = tensor_digests(load_from_bytes(serialise()));
  const std::string bytes = serialise();
  if (tensor_digests(load_from_bytes(bytes)) != stored.tensor_digests) {
    throw DeployError(out_path + ": the saved tensors do not reproduce their digests; nothing written");
  }
  std::error_code error;
  const fs::path parent = fs::path(out_path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, error);
    if (error) throw DeployError(out_path + ": cannot create folder " + parent.string() + ": " + error.message());
  }
  try {
    files::check_output_path(out_path, {metadata.source});
    files::write_file_atomically(out_path, bytes);
  } catch (const files::FileError& e) {
    throw DeployError(e.what());
  }
  report.bytes = static_cast<int64_t>(bytes.size());
  report.optimization = stored.optimization;
  return report;
}

torch::Tensor ExportedModel::forward(const torch::Tensor& images) {
  torch::Tensor scores;
  try {
    if (!session) session = std::make_shared<InferenceSession>(module, device);
    scores = session->forward(images);
  } catch (const DeployError& e) {  // the session's own check: "the model ..."
    throw DeployError(printable(path) + ": " + e.what());
  } catch (const std::exception& e) {
    throw DeployError(printable(path) + ": the model fails: " + error_summary(e));
  }
  return checked_scores(scores, images.size(0), path);
}

namespace {

// The loaded module against the digests recorded at export.
void verify_digests(const ExportedModel& loaded) {
  const std::string file = printable(loaded.path);
  if (loaded.metadata.tensor_digests.empty()) {
    static bool warned = false;  // once per process
    if (!warned) {
      std::cerr << "lenet5: warning: " << file << ": exported without tensor digests (before lenet5 recorded "
                << "them): only the self-test guards it against corruption; export it again to add them\n";
      warned = true;
    }
    return;
  }
  const std::string difference = first_difference(loaded.metadata.tensor_digests, tensor_digests(loaded.module));
  if (!difference.empty()) throw DeployError(file + ": corrupt model: " + difference);
}

// forward on the check batch: finite scores [16,10], equal to those recorded at export when there are any.
void run_self_test(ExportedModel& loaded) {
  const std::string file = printable(loaded.path);
  torch::Tensor scores;
  try {
    c10::InferenceMode inference;
    const auto images = check_batch().to(loaded.device);
    scores = checked_scores(loaded.module.forward({images}), images.size(0), loaded.path)
                 .to(torch::kCPU, torch::kFloat32)
                 .contiguous();
  } catch (const DeployError&) {
    throw;
  } catch (const std::exception& e) {
    throw DeployError(file + ": the model fails on the check batch: " + error_summary(e));
  }
  const auto& recorded = loaded.metadata.check_scores;
  if (recorded.empty()) return;
  const auto expected = torch::tensor(recorded, torch::kFloat32);
  if (scores.numel() != expected.numel()) {
    throw DeployError(file + ": the model fails its self-test: " + std::to_string(scores.numel()) +
                      " scores for the check batch, " + std::to_string(expected.numel()) + " recorded");
  }
  // Bit-exact on the CPU it was exported on; other devices and kernels (TF32 on CUDA) round differently.
  const double relative = loaded.device.is_cpu() ? 1e-4 : 2e-2;
  const double difference = max_abs(scores.view({-1}) - expected);
  if (!(difference <= relative * std::max(1.0, max_abs(expected)))) {
    throw DeployError(file + ": corrupt model: its scores for the self-test batch differ from those recorded at "
                             "export (max difference " + std::to_string(difference) + ")");
  }
}

}  // namespace

ExportedModel load_exported(const std::string& path, const torch::Device& device) {
  const std::string file = printable(path);
  std::istringstream bytes;
  try {
    bytes.str(files::read_input(path, files::InputKind::kModel));  // once, and only a regular file
  } catch (const files::FileError& e) {
    throw DeployError(printable(e.what()));
  }
  torch::jit::ExtraFilesMap extra{{kMetadataFile, ""}};
  ExportedModel loaded;
  loaded.path = path;
  loaded.device = device;
  try {
    loaded.module = torch::jit::load(bytes, device, extra);
  } catch (const std::exception& e) {
    throw DeployError(file + ": not a readable TorchScript model (corrupt, truncated or another format): " +
                      error_summary(e));
  }
  const std::string& metadata = extra[kMetadataFile];
  if (metadata.empty()) {
    if (is_checkpoint(loaded.module)) {
      throw DeployError(file + ": is a training checkpoint, not an exported model; export it first with "
                               "`lenet5 export --checkpoint " + file + " --out MODEL.pt`");
    }
    throw DeployError(file + ": TorchScript file without lenet5's " + kMetadataFile +
                      " (not written by `lenet5 export`)");
  }
  try {
    loaded.metadata = metadata_from_json(metadata);
  } catch (const DeployError& e) {
    throw DeployError(file + ": " + e.what());
  }
  if (!loaded.module.find_method("forward")) throw DeployError(file + ": the TorchScript module has no forward()");
  loaded.module.eval();
  verify_digests(loaded);
  run_self_test(loaded);
  return loaded;
}

}  // namespace lenet5::deploy
