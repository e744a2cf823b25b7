// TorchScript export: the exported module computes the eager model's scores on all of MNIST's test set,
// metadata survives the round trip, and damaged or foreign files give one clear line naming the file.
#include <caffe2/serialize/inline_container.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "deploy_test_support.h"
#include "lenet5/deploy/export.h"
#include "lenet5/deploy/predict.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/model/classic.h"

namespace {

using lenet5::deploy::DeployError;
using lenet5::model::Variant;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace fs = std::filesystem;

torch::Tensor scores_in_batches(const std::function<torch::Tensor(const torch::Tensor&)>& score,
                                const torch::Tensor& images) {
  c10::InferenceMode inference;
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < images.size(0); begin += 1000) {
    parts.push_back(score(images.slice(0, begin, std::min(images.size(0), begin + 1000))));
  }
  return torch::cat(parts);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const DeployError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no error";
}

// Both exports (plain and optimised) against the eager model on all 10,000 test images: scores within 1e-5
// (relative to the largest score) and identical predictions, hence identical accuracy. (engine::evaluate with an
// exported model is covered by the CLI test's `eval --model`.)
void expect_export_matches_eager(Variant variant) {
  LENET5_REQUIRE_MNIST();
  // The classic network learns more slowly and scores more slowly; a shorter run suffices to move its weights.
  auto net = lenet5::testing::quick_trained_model(variant, variant == Variant::kClassic ? 60 : 100);
  const lenet5::data::MnistDataset test(lenet5::testing::mnist_dir(), lenet5::data::Split::kTest);
  ASSERT_EQ(test.length(), 10000);
  const auto eager_scores = scores_in_batches([&](const torch::Tensor& x) { return net->forward(x); }, test.images());
  const auto eager_predictions = eager_scores.argmax(1);
  const double eager_accuracy = eager_predictions.eq(test.targets()).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(eager_accuracy, 0.7) << "the quick training should give a useful model";

  lenet5::testing::TempDir dir;
  lenet5::deploy::ExportMetadata metadata;
  metadata.test_accuracy = eager_accuracy;
  for (bool optimize : {false, true}) {
    SCOPED_TRACE(optimize ? "optimized export" : "plain export");
    const std::string path = dir.file(optimize ? "optimized.pt" : "model.pt");
    const auto report = lenet5::deploy::export_torchscript(net, metadata, path, optimize);
    EXPECT_GT(report.bytes, 0);
    // Float rounding only: the eager forward runs C5 as a matrix product, the export as a convolution.
    const double scale = std::max(1.0, eager_scores.abs().max().item<double>());
    EXPECT_LE(report.max_abs_diff, 1e-5 * scale);
    auto exported = lenet5::deploy::load_exported(path);
    EXPECT_EQ(exported.metadata.variant, variant);
    EXPECT_EQ(exported.metadata.optimized, optimize);
    EXPECT_EQ(exported.metadata.optimization, optimize ? "freeze" : "none")
        << "optimize_for_inference results became loadable: update this test and the docs";
    // The fallback says why, in one line (the export command prints it on stderr).
    EXPECT_EQ(report.optimization_note.empty(), !optimize) << report.optimization_note;
    EXPECT_EQ(report.optimization_note.find('\n'), std::string::npos) << report.optimization_note;
    if (optimize) {
      EXPECT_EQ(report.optimization_note.rfind("optimize_for_inference's module not kept (it does not save and load "
                                               "again: ",
                                               0),
                0u)
          << report.optimization_note;
    }
    const auto scores = scores_in_batches([&](const torch::Tensor& x) { return exported.forward(x); }, test.images());
    ASSERT_EQ(scores.sizes(), eager_scores.sizes());
    EXPECT_LE((scores - eager_scores).abs().max().item<double>(), 1e-5 * scale);
    EXPECT_TRUE(torch::equal(scores.argmax(1), eager_predictions));
    const double accuracy = scores.argmax(1).eq(test.targets()).to(torch::kFloat64).mean().item<double>();
    EXPECT_EQ(accuracy, eager_accuracy);
    std::cout << lenet5::model::variant_name(variant) << (optimize ? " optimized" : "") << ": eager accuracy "
              << eager_accuracy << ", exported " << accuracy << "\n";
  }
}

TEST(DeployExport, ClassicExportMatchesTheEagerModelOnMnistTest) { expect_export_matches_eager(Variant::kClassic); }

TEST(DeployExport, ModernExportMatchesTheEagerModelOnMnistTest) { expect_export_matches_eager(Variant::kModern); }

TEST(DeployExport, ClassicC3KeepsItsConnectionTable) {
  torch::manual_seed(3);
  lenet5::model::LeNet5 net(Variant::kClassic);
  auto module = lenet5::deploy::to_torchscript(net);
  const auto c3 = module.attr("C3_weight").toTensor();
  ASSERT_EQ(c3.sizes(), (std::vector<int64_t>{16, 6, 5, 5}));
  const auto absent = net->as<lenet5::model::LeNet5Classic>()->C3->connection_mask().logical_not();
  EXPECT_EQ(c3.abs().sum({2, 3}).masked_select(absent).count_nonzero().item<int64_t>(), 0);
  EXPECT_EQ(absent.sum().item<int64_t>(), 16 * 6 - 60);
}

TEST(DeployExport, MetadataRoundTrips) {
  torch::manual_seed(0);
  lenet5::model::LeNet5 net(Variant::kClassic);
  lenet5::engine::CheckpointInfo info;
  info.variant = Variant::kClassic;
  info.dataset = lenet5::data::DatasetKind::kFashionMnist;
  info.epoch = 12;
  info.test_accuracy = 0.9123;
  info.config_json = R"({"epochs": 12, "optimizer": "sgd", "lr": 0.01})";
  lenet5::testing::TempDir dir;
  const auto metadata = lenet5::deploy::metadata_from_checkpoint(info, "runs/x/best.pt");
  lenet5::deploy::export_torchscript(net, metadata, dir.file("sub/folder/model.pt"), false);
  const auto loaded = lenet5::deploy::load_exported(dir.file("sub/folder/model.pt")).metadata;
  EXPECT_EQ(loaded.variant, Variant::kClassic);
  EXPECT_EQ(loaded.dataset, lenet5::data::DatasetKind::kFashionMnist);
  EXPECT_EQ(loaded.class_names, lenet5::data::class_names(lenet5::data::DatasetKind::kFashionMnist));
  EXPECT_EQ(loaded.epoch, 12);
  EXPECT_DOUBLE_EQ(loaded.test_accuracy, 0.9123);
  EXPECT_EQ(nlohmann::json::parse(loaded.training_config), nlohmann::json::parse(info.config_json));
  EXPECT_EQ(loaded.source, "runs/x/best.pt");
  EXPECT_FALSE(loaded.optimized);
  EXPECT_EQ(loaded.input, lenet5::deploy::kInputContract);
  EXPECT_EQ(loaded.torch_version, std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                                      "." + std::to_string(TORCH_VERSION_PATCH));
  EXPECT_FALSE(loaded.lenet5_version.empty());
  for (const auto& entry : fs::directory_iterator(dir.file("sub/folder"))) {
    EXPECT_EQ(entry.path().filename(), "model.pt") << "left behind";
  }
}

TEST(DeployExport, ForwardRejectsTheWrongInputShape) {
  lenet5::model::LeNet5 net(Variant::kModern);
  auto module = lenet5::deploy::to_torchscript(net);
  try {
    module.forward({torch::rand({2, 1, 32, 32})});
    FAIL() << "a 32x32 input was accepted";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("[N,1,28,28]"));
  }
}

TEST(DeployExport, DamagedAndForeignFilesGiveOneClearLine) {
  lenet5::testing::TempDir dir;
  torch::manual_seed(2);
  lenet5::model::LeNet5 net(Variant::kModern);
  const std::string good = dir.file("good.pt");
  lenet5::deploy::export_torchscript(net, {}, good, false);
  const auto bytes = lenet5::testing::read_file(good);
  ASSERT_GT(bytes.size(), 1000u);

  const std::string truncated = dir.file("truncated.pt");
  lenet5::testing::write_file(truncated,
                              {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)});
  const std::string corrupt = dir.file("corrupt.pt");
  auto damaged = bytes;
  for (size_t i = 0; i < 64; ++i) damaged[i] ^= 0x5a;                                 // the zip's first local header
  for (size_t i = damaged.size() - 200; i < damaged.size(); ++i) damaged[i] ^= 0x5a;  // its central directory
  lenet5::testing::write_file(corrupt, damaged);
  // A flipped exponent bit in the output layer's bias: the zip stays valid (torch archives are read without
  // checking their CRCs), only the self-test can tell.
  const std::string flipped = dir.file("flipped.pt");
  {
    const auto bias = net->named_parameters()["output.bias"].detach().contiguous();
    const auto* needle = reinterpret_cast<const std::uint8_t*>(bias.data_ptr<float>());
    const auto at = std::search(bytes.begin(), bytes.end(), needle, needle + 40);
    ASSERT_NE(at, bytes.end());
    auto damaged_weights = bytes;
    damaged_weights[static_cast<size_t>(at - bytes.begin()) + 3] ^= 0x40;
    lenet5::testing::write_file(flipped, damaged_weights);
  }
  const std::string text = dir.file("notes.pt");
  lenet5::testing::write_file(text, {'h', 'e', 'l', 'l', 'o', '\n'});
  const std::string empty = dir.file("empty.pt");
  lenet5::testing::write_file(empty, {});
  const std::string checkpoint = dir.file("checkpoint.pt");
  lenet5::engine::save_checkpoint(checkpoint, net, nullptr, {});

  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir.file("missing.pt"), "not found"},
      {dir.path(), "is a folder"},
      {truncated, "not a readable TorchScript model"},
      {corrupt, "not a readable TorchScript model"},
      {flipped, "corrupt model"},
      {text, "not a readable TorchScript model"},
      {empty, "not a readable TorchScript model"},
      {checkpoint, "is a training checkpoint"},
  };
  for (const auto& [path, expected] : cases) {
    const std::string message = error_of([&] { lenet5::deploy::load_exported(path); });
    EXPECT_THAT(message, StartsWith(path + ": ")) << message;
    EXPECT_THAT(message, HasSubstr(expected)) << message;
    EXPECT_THAT(message, Not(HasSubstr("\n"))) << message;
    EXPECT_THAT(message, Not(HasSubstr("Exception raised from"))) << message;
  }
}

TEST(DeployExport, UnwritableDestinationFailsWithoutLeavingFiles) {
  lenet5::testing::TempDir dir;
  lenet5::model::LeNet5 net(Variant::kModern);
  lenet5::testing::write_file(dir.file("a-file"), {'x'});
  const std::string out = dir.file("a-file/model.pt");
  const std::string message = error_of([&] { lenet5::deploy::export_torchscript(net, {}, out, false); });
  EXPECT_THAT(message, StartsWith(out + ": ")) << message;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

// Saves `module` as `path` with lenet5's metadata (digests of its tensors, no recorded self-test scores), the
// way a foreign or hand-made model would pass the metadata checks.
void save_with_metadata(torch::jit::Module& module, const std::string& path) {
  lenet5::deploy::ExportMetadata metadata;
  metadata.class_names = lenet5::data::class_names(lenet5::data::DatasetKind::kMnist);
  metadata.tensor_digests = lenet5::deploy::tensor_digests(module);
  module.save(path, {{lenet5::deploy::kMetadataFile, lenet5::deploy::metadata_to_json(metadata)}});
}

torch::jit::Module module_with_forward(const std::string& body) {
  torch::jit::Module module("__torch__.Foreign");
  module.register_parameter("weight", torch::ones({10}), false);
  module.define("def forward(self, x: Tensor):\n" + body);
  return module;
}

// Flips the lowest exponent bit of one float of `tensor` where its bytes lie in the archive: the value doubles
// or halves, a corruption the 16-image self-test does not always see.
std::vector<std::uint8_t> with_flipped_exponent(const std::vector<std::uint8_t>& archive, const torch::Tensor& tensor) {
  const auto values = tensor.detach().to(torch::kCPU).contiguous();
  const auto* begin = static_cast<const std::uint8_t*>(values.data_ptr());
  const auto at = std::search(archive.begin(), archive.end(), begin, begin + values.nbytes());
  EXPECT_NE(at, archive.end());
  auto damaged = archive;
  const size_t element = static_cast<size_t>(values.numel() / 2);
  damaged[static_cast<size_t>(at - archive.begin()) + 4 * element + 2] ^= 0x80;
  return damaged;
}

// A bit flipped in any tensor of a plain or frozen export is refused on load, naming the tensor.
TEST(DeployExport, BitFlipInAnyTensorIsRefusedNamingIt) {
  lenet5::testing::TempDir dir;
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    torch::manual_seed(5);
    lenet5::model::LeNet5 net(variant);
    auto plain = lenet5::deploy::to_torchscript(net);
    for (bool optimize : {false, true}) {
      SCOPED_TRACE(lenet5::model::variant_name(variant) + std::string(optimize ? " frozen" : " plain"));
      const std::string good = dir.file("good.pt");
      lenet5::deploy::export_torchscript(net, {}, good, optimize);
      const auto loaded = lenet5::deploy::load_exported(good);
      EXPECT_EQ(loaded.metadata.tensor_digests, lenet5::deploy::tensor_digests(loaded.module));
      EXPECT_EQ(loaded.metadata.tensor_digests.size(), plain.named_parameters().size() + plain.named_buffers().size());
      const auto bytes = lenet5::testing::read_file(good);
      int flips = 0;
      for (const auto& tensor : plain.named_attributes()) {
        if (!tensor.value.isTensor()) continue;
        const std::string flipped = dir.file("flipped.pt");
        lenet5::testing::write_file(flipped, with_flipped_exponent(bytes, tensor.value.toTensor()));
        const std::string message = error_of([&] { lenet5::deploy::load_exported(flipped); });
        EXPECT_THAT(message, StartsWith(flipped + ": corrupt model: tensor '")) << tensor.name;
        if (!optimize) {
          EXPECT_THAT(message, HasSubstr("'" + tensor.name + "' differs from the digest")) << message;
        }
        EXPECT_THAT(message, Not(HasSubstr("\n")));
        ++flips;
      }
      EXPECT_EQ(flips, variant == Variant::kClassic ? 13 : 10);
    }
  }
}

TEST(DeployExport, ExportsWithoutDigestsLoadWithAWarning) {
  lenet5::testing::TempDir dir;
  lenet5::model::LeNet5 net(Variant::kModern);
  const std::string good = dir.file("good.pt");
  lenet5::deploy::export_torchscript(net, {}, good, false);
  auto loaded = lenet5::deploy::load_exported(good);
  auto metadata = loaded.metadata;
  metadata.tensor_digests.clear();  // as written before digests existed
  const std::string old = dir.file("old.pt");
  loaded.module.save(old, {{lenet5::deploy::kMetadataFile, lenet5::deploy::metadata_to_json(metadata)}});
  ::testing::internal::CaptureStderr();
  EXPECT_NO_THROW(lenet5::deploy::load_exported(old));
  EXPECT_NO_THROW(lenet5::deploy::load_exported(old));
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(warnings, HasSubstr("lenet5: warning: " + old + ": exported without tensor digests"));
  EXPECT_EQ(warnings.find("warning"), warnings.rfind("warning")) << "once per process: " << warnings;
}

// Scores that are not finite are an error naming the model: on load (the check batch), when serving
// (predict, eval --model), and in the session's own check.
TEST(DeployExport, NonFiniteScoresAreAnErrorNamingTheModel) {
  lenet5::testing::TempDir dir;
  lenet5::model::LeNet5 net(Variant::kModern);
  {
    torch::NoGradGuard no_grad;
    net->named_parameters()["output.bias"][4] = NAN;
  }
  EXPECT_THAT(error_of([&] { lenet5::deploy::export_torchscript(net, {}, dir.file("nan.pt"), false); }),
              HasSubstr("nothing written"));
  auto module = lenet5::deploy::to_torchscript(net);
  const std::string path = dir.file("nan.pt");
  save_with_metadata(module, path);
  EXPECT_EQ(error_of([&] { lenet5::deploy::load_exported(path); }),
            path + ": forward returns non-finite scores (NaN or infinity) for 16 of 16 images");

  // Finite on the check batch (pixels below 1), NaN where the first pixel is 1: caught when serving.
  auto tricky = module_with_forward(
      "    scores = torch.zeros([x.size(0), 10])\n"
      "    return torch.where(x[:, 0, 0, 0:1] >= 1.0, scores + float('nan'), scores)\n");
  const std::string tricky_path = dir.file("tricky.pt");
  save_with_metadata(tricky, tricky_path);
  auto exported = lenet5::deploy::load_exported(tricky_path);
  EXPECT_EQ(error_of([&] { lenet5::deploy::predict(exported, {lenet5::deploy::GrayImage(28, 28, 1.0f)}); }),
            tricky_path + ": forward returns non-finite scores (NaN or infinity) for 1 of 1 images");
  EXPECT_EQ(error_of([&] { lenet5::deploy::InferenceSession session(module, torch::kCPU); }),
            "the model: forward returns non-finite scores (NaN or infinity) for 16 of 16 images");
}

// Models from elsewhere that break the contract: one line naming the file and what is wrong.
TEST(DeployExport, ForeignModelsGiveOneLineNamingWhatIsWrong) {
  lenet5::testing::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    return self.weight[:7].expand([x.size(0), 7])\n", ": forward returns [16, 7], expected [16, 10]"},
      {"    return torch.zeros([x.size(0)])\n", ": forward returns [16], expected [16, 10]"},
      {"    return (x, x)\n", ": forward returns Tuple[Tensor, Tensor], expected a tensor [16, 10]"},
      {"    return [x]\n", ": forward returns List[Tensor], expected a tensor [16, 10]"},
      {"    return None\n", ": forward returns None, expected a tensor [16, 10]"},
      {"    return torch.zeros([x.size(0), 10]).long()\n", ": forward returns Long scores, expected floating point"},
      {"    assert x.size(0) < 0, 'this model is broken'\n    return x\n", ": the model fails on the check batch: "},
      {"    return torch.matmul(x, self.weight.view([5, 2]))\n", ": the model fails on the check batch: "},
  };
  int n = 0;
  for (const auto& [body, expected] : cases) {
    const std::string path = dir.file("foreign" + std::to_string(n++) + ".pt");
    auto module = module_with_forward(body);
    save_with_metadata(module, path);
    const std::string message = error_of([&] { lenet5::deploy::load_exported(path); });
    EXPECT_THAT(message, StartsWith(path + expected)) << body;
    EXPECT_THAT(message, Not(HasSubstr("\n"))) << message;
    EXPECT_THAT(message, Not(HasSubstr("Traceback"))) << message;
    EXPECT_LT(message.size(), 300u) << message;
    if (body.find("assert") != std::string::npos) {
      EXPECT_THAT(message, HasSubstr("this model is broken"));
    }
  }
  // Without metadata, and a zip archive that is not TorchScript at all.
  auto plain = module_with_forward("    return x\n");
  const std::string bare = dir.file("bare.pt");
  plain.save(bare);
  EXPECT_THAT(error_of([&] { lenet5::deploy::load_exported(bare); }),
              StartsWith(bare + ": TorchScript file without lenet5's metadata.json"));
  const std::string zip = dir.file("archive.pt");
  {
    caffe2::serialize::PyTorchStreamWriter writer(zip);
    writer.writeRecord("notes.txt", "hello", 5);
    writer.writeEndOfFile();
  }
  const std::string message = error_of([&] { lenet5::deploy::load_exported(zip); });
  EXPECT_THAT(message, StartsWith(zip + ": not a readable TorchScript model"));
  EXPECT_THAT(message, Not(HasSubstr("\n"))) << message;
  // A model that raises only for some inputs, when serving.
  auto picky = module_with_forward(
      "    if x.size(0) > 16:\n        assert False, 'too many images'\n"
      "    return torch.zeros([x.size(0), 10])\n");
  const std::string picky_path = dir.file("picky.pt");
  save_with_metadata(picky, picky_path);
  auto exported = lenet5::deploy::load_exported(picky_path);
  const std::string serving = error_of([&] { exported.forward(torch::zeros({17, 1, 28, 28})); });
  EXPECT_THAT(serving, StartsWith(picky_path + ": the model fails: "));
  EXPECT_THAT(serving, HasSubstr("too many images"));
  EXPECT_THAT(serving, Not(HasSubstr("\n"))) << serving;
}

TEST(DeployExport, ControlCharactersInTheModelNameAreEscaped) {
  lenet5::testing::TempDir dir;
  const std::string path = dir.file("evil\x1b[2J.pt");
  lenet5::testing::write_file(path, {'x'});
  const std::string message = error_of([&] { lenet5::deploy::load_exported(path); });
  EXPECT_THAT(message, StartsWith(dir.path() + "/evil\\x1B[2J.pt: not a readable TorchScript model"));
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
}

// The output is checked before any work: never the checkpoint it comes from (under any name), never a device,
// FIFO or folder. Both used to be replaced by the rename.
TEST(DeployExport, NeverWritesOverItsCheckpointOrANonRegularFile) {
  lenet5::testing::TempDir dir;
  lenet5::model::LeNet5 net(Variant::kModern);
  const std::string checkpoint = dir.file("best.pt");
  lenet5::engine::save_checkpoint(checkpoint, net, nullptr, {});
  const auto before = lenet5::testing::read_file(checkpoint);
  fs::create_symlink(checkpoint, dir.file("link.pt"));
  const auto metadata = lenet5::deploy::metadata_from_checkpoint({}, checkpoint);
  for (const auto& out : {checkpoint, dir.file("link.pt"), dir.path() + "/./best.pt"}) {
    EXPECT_THAT(error_of([&] { lenet5::deploy::export_torchscript(net, metadata, out, false); }),
                StartsWith(out + ": is the input " + checkpoint));
  }
  EXPECT_EQ(lenet5::testing::read_file(checkpoint), before);
  ASSERT_EQ(::mkfifo(dir.file("fifo.pt").c_str(), 0600), 0);
  EXPECT_THAT(error_of([&] { lenet5::deploy::export_torchscript(net, metadata, dir.file("fifo.pt"), false); }),
              StartsWith(dir.file("fifo.pt") + ": exists and is not a regular file"));
  EXPECT_TRUE(fs::is_fifo(dir.file("fifo.pt")));
  ::alarm(30);  // reading the FIFO as a model used to block forever
  EXPECT_THAT(error_of([&] { lenet5::deploy::load_exported(dir.file("fifo.pt")); }),
              StartsWith(dir.file("fifo.pt") + ": is a FIFO (named pipe), expected an exported model file"));
  ::alarm(0);
}

}  // namespace
