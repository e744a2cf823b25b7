// The deployment commands end to end: export a checkpoint, evaluate the exported model (same accuracy as the
// checkpoint), classify pictures with predict; exit codes 0 ok, 1 runtime failure, 2 usage.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <utility>

#include "deploy_test_support.h"
#include "lenet5/deploy/export.h"
#include "lenet5/deploy/image.h"
#include "lenet5/engine/checkpoint.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

CommandResult run_lenet5(const std::string& arguments, const lenet5::testing::TempDir& dir) {
  CommandResult result;
  const std::string err_file = dir.file("stderr.txt");
  const auto run = lenet5::testing::run_shell(std::string(LENET5_BINARY) + " " + arguments + " 2>" + err_file);
  result.exit_code = run.exit_code;
  result.out = run.output;
  const auto bytes = lenet5::testing::read_file(err_file);
  result.err.assign(bytes.begin(), bytes.end());
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "accuracy 93.16% (10000 images, 9316 correct)" from eval's text output.
std::string accuracy_line(const std::string& output) {
  for (const auto& line : lines_of(output)) {
    if (line.rfind("accuracy ", 0) == 0) return line;
  }
  return "no accuracy line in: " + output;
}

// "accuracy 15.26% (10000 images, 1526 correct), loss 2.3007" -> {1526, 2.3007}.
std::pair<int64_t, double> correct_and_loss(const std::string& line) {
  const auto images = line.find(" images, "), loss = line.find("loss ");
  if (images == std::string::npos || loss == std::string::npos) return {-1, -1};
  return {std::stoll(line.substr(images + 9)), std::stod(line.substr(loss + 5))};
}

// An MNIST test digit drawn 2 to 4 times larger as dark ink on white paper, somewhere on the page.
lenet5::deploy::GrayImage picture_of(const torch::Tensor& digit, int i) {
  const auto pixels = digit.reshape({28, 28}).contiguous();
  const auto access = pixels.accessor<float, 2>();
  const int scale = 2 + i % 3, dx = 3 + 7 * (i % 6), dy = 2 + 5 * (i % 7);
  lenet5::deploy::GrayImage paper(160, 150, 1.0f);
  for (int y = 0; y < 28 * scale; ++y) {
    for (int x = 0; x < 28 * scale; ++x) paper.at(dx + x, dy + y) = 1.0f - access[y / scale][x / scale];
  }
  return paper;
}

// MNIST test digits drawn 4 times larger side by side at `x` (dark ink on paper of reflectance 0.95), and a
// shadow with a soft edge over the lower right of the page when `shadow`.
lenet5::deploy::GrayImage page_of(const std::vector<torch::Tensor>& digits, const std::vector<int>& x, bool shadow) {
  lenet5::deploy::GrayImage page(300, 160, 0.95f);
  for (size_t d = 0; d < digits.size(); ++d) {
    const auto pixels = digits[d].reshape({28, 28}).contiguous();
    const auto access = pixels.accessor<float, 2>();
    for (int y = 0; y < 112; ++y) {
      for (int dx = 0; dx < 112; ++dx) page.at(x[d] + dx, 24 + y) = 0.95f - 0.85f * access[y / 4][dx / 4];
    }
  }
  for (int y = 0; shadow && y < page.height; ++y) {
    for (int x0 = 0; x0 < page.width; ++x0) {
      const int s = x0 + y;
      page.at(x0, y) *= s < 190 ? 1.0f : s > 230 ? 0.3f : 1.0f - 0.7f * static_cast<float>(s - 190) / 40.0f;
    }
  }
  return page;
}

class DeployCli : public ::testing::Test {
 protected:
  void SetUp() override {
    LENET5_REQUIRE_MNIST();
    data_ = lenet5::testing::mnist_dir();
  }

  // Trained once a process: several tests use it.
  static lenet5::model::LeNet5 trained_once() {
    static const auto net = lenet5::testing::quick_trained_model(lenet5::model::Variant::kModern);
    return net;
  }

  // A checkpoint of a briefly trained (or, where the weights do not matter, a freshly initialised) model.
  void make_checkpoint(bool trained) {
    torch::manual_seed(5);
    auto net = trained ? trained_once() : lenet5::model::LeNet5(lenet5::model::Variant::kModern);
    lenet5::engine::CheckpointInfo info;
    info.variant = lenet5::model::Variant::kModern;
    info.epoch = 1;
    info.test_accuracy = 0.5;  // whatever the run measured; export copies it into the metadata
    info.config_json = R"({"epochs": 1, "optimizer": "adam"})";
    checkpoint_ = dir_.file("best.pt");
    lenet5::engine::save_checkpoint(checkpoint_, net, nullptr, info);
  }

  lenet5::testing::TempDir dir_;
  std::string data_;
  std::string checkpoint_;
};

TEST_F(DeployCli, ExportedModelEvaluatesLikeTheCheckpoint) {
  make_checkpoint(/*trained=*/false);
  const std::string model = dir_.file("out/model.pt"), optimized = dir_.file("out/optimized.pt");
  auto exported = run_lenet5("export --checkpoint " + checkpoint_ + " --out " + model, dir_);
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;
  EXPECT_THAT(exported.out, HasSubstr("exported modern LeNet-5 (mnist, epoch 1, test accuracy 50.00%) to " + model));
  exported = run_lenet5("export --optimize --checkpoint " + checkpoint_ + " --out " + optimized, dir_);
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;

  // (Each run scores all 10,000 test images; the optimised export's scores are checked in deploy_export_test.)
  const auto reference = run_lenet5("eval --checkpoint " + checkpoint_ + " --data " + data_, dir_);
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const auto result = run_lenet5("eval --model " + model + " --data " + data_, dir_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out,
              HasSubstr(model + ": modern LeNet-5 (TorchScript), mnist test split, epoch 1, test accuracy at "
                                "export 50.00%"));
  // The export runs LibTorch's convolutions, the checkpoint lenet5's own CPU kernels: scores agree to float
  // rounding (deploy_export_test), which may flip an image whose top two scores all but tie (this model is
  // untrained), as it did once in 10,000 against LibTorch 2.11.
  const auto [exported_correct, exported_loss] = correct_and_loss(accuracy_line(result.out));
  const auto [reference_correct, reference_loss] = correct_and_loss(accuracy_line(reference.out));
  ASSERT_GE(reference_correct, 0) << reference.out;
  EXPECT_LE(std::abs(exported_correct - reference_correct), 2) << result.out;
  EXPECT_NEAR(exported_loss, reference_loss, 1e-3) << result.out;
  EXPECT_THAT(result.out, HasSubstr("confusion matrix"));
  std::cout << "checkpoint: " << accuracy_line(reference.out) << "\nexported:   " << accuracy_line(result.out) << "\n";
}

TEST_F(DeployCli, PredictClassifiesPicturesAndReportsUnreadableOnes) {
  make_checkpoint(/*trained=*/true);
  const std::string model = dir_.file("model.pt");
  ASSERT_EQ(run_lenet5("export --checkpoint " + checkpoint_ + " --out " + model, dir_).exit_code, 0);
  const lenet5::data::MnistDataset test(data_, lenet5::data::Split::kTest);
  constexpr int kPictures = 20;
  std::vector<std::string> pictures;
  const std::string broken = dir_.file("broken.png");
  lenet5::testing::write_file(broken, {'n', 'o', 'p', 'e'});
  std::string files;
  for (int i = 0; i < kPictures; ++i) {
    pictures.push_back(dir_.file("digit" + std::to_string(i) + (i % 2 ? ".pgm" : ".png")));
    lenet5::deploy::write_image(pictures.back(), picture_of(test.images()[i], i));
    files += " " + pictures.back() + (i == 1 ? " " + broken : "");
  }

  const auto text =
      run_lenet5("predict --model " + model + " --top-k 5 --save-preprocessed " + dir_.file("seen") + files, dir_);
  EXPECT_EQ(text.exit_code, 1) << "one image could not be read";
  EXPECT_THAT(text.err, HasSubstr(broken + ": cannot decode image"));
  EXPECT_THAT(text.err, HasSubstr("1 of 21 images could not be read"));
  const auto printed = lines_of(text.out);
  ASSERT_EQ(printed.size(), static_cast<size_t>(kPictures)) << text.out;
  int recognised = 0;
  for (size_t i = 0; i < printed.size(); ++i) {
    const std::string label = std::to_string(test.targets()[static_cast<int64_t>(i)].item<int64_t>());
    EXPECT_THAT(printed[i], ::testing::StartsWith(pictures[i] + ": ")) << "in the order given";
    EXPECT_THAT(printed[i], HasSubstr("; top 5: "));
    EXPECT_EQ(std::count(printed[i].begin(), printed[i].end(), '%'), 6) << printed[i];
    recognised += printed[i].rfind(pictures[i] + ": " + label + " (", 0) == 0;
    const auto seen = lenet5::deploy::read_image(dir_.file("seen/digit" + std::to_string(i) + ".png"));
    EXPECT_EQ(seen.width, 28);
    EXPECT_EQ(seen.height, 28);
  }
  std::cout << "predict recognised " << recognised << " of " << kPictures << " pictures of MNIST test digits\n";
  EXPECT_GE(recognised, 17);

  const auto json = run_lenet5("predict --json --model " + model + " " + pictures[0] + " " + pictures[1], dir_);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto objects = lines_of(json.out);
  ASSERT_EQ(objects.size(), 2u) << json.out;
  for (size_t i = 0; i < 2; ++i) {
    const auto object = nlohmann::json::parse(objects[i]);
    EXPECT_EQ(object.at("file"), pictures[i]);
    EXPECT_EQ(object.at("label").get<int64_t>(), test.targets()[static_cast<int64_t>(i)].item<int64_t>());
    EXPECT_EQ(object.at("name"), std::to_string(object.at("label").get<int>()));
    const auto probabilities = object.at("probabilities").get<std::vector<double>>();
    ASSERT_EQ(probabilities.size(), 10u);
    EXPECT_NEAR(std::accumulate(probabilities.begin(), probabilities.end(), 0.0), 1.0, 1e-5);
  }
}

TEST_F(DeployCli, BadInputsGiveOneLineAndTheRightExitCode) {
  make_checkpoint(/*trained=*/false);
  const std::vector<std::tuple<std::string, int, std::string>> cases = {
      {"export --checkpoint " + dir_.file("missing.pt") + " --out " + dir_.file("m.pt"), 1, "not found"},
      {"predict --model " + checkpoint_ + " x.png", 1, "is a training checkpoint"},
      {"eval --model " + dir_.file("missing.pt") + " --data " + data_, 1, "model file not found"},
      {"predict --model " + checkpoint_ + " --top-k 11 x.png", 2, "--top-k"},
  };
  for (const auto& [arguments, code, message] : cases) {
    const auto result = run_lenet5(arguments, dir_);
    EXPECT_EQ(result.exit_code, code) << arguments << "\n" << result.err;
    EXPECT_THAT(result.err, HasSubstr(message)) << arguments;
    EXPECT_THAT(result.err, Not(HasSubstr("Exception raised from"))) << arguments;
  }
}

// What the content checks catch, end to end: one line naming the file, exit code 1, nothing printed raw.
TEST_F(DeployCli, ContentDefectsEndInOneLineNamingTheFile) {
  using lenet5::model::Variant;
  torch::manual_seed(3);
  lenet5::model::LeNet5 net(Variant::kModern);
  lenet5::deploy::ExportMetadata metadata;
  metadata.class_names = {"zero\x1b[31m", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  const std::string model = dir_.file("model.pt");
  lenet5::deploy::export_torchscript(net, metadata, model, false);
  // A flipped exponent bit in F6's weights, found by value in the archive.
  const auto bytes = lenet5::testing::read_file(model);
  const auto weights = net->named_parameters()["F6.weight"].detach().contiguous();
  const auto* begin = reinterpret_cast<const std::uint8_t*>(weights.data_ptr<float>());
  const auto at = std::search(bytes.begin(), bytes.end(), begin, begin + weights.nbytes());
  ASSERT_NE(at, bytes.end());
  auto flipped_bytes = bytes;
  flipped_bytes[static_cast<size_t>(at - bytes.begin()) + 4 * 100 + 2] ^= 0x80;
  const std::string flipped = dir_.file("flipped.pt");
  lenet5::testing::write_file(flipped, flipped_bytes);
  // A checkpoint whose weights hold a NaN.
  {
    torch::NoGradGuard no_grad;
    net->named_parameters()["F6.weight"][0][0] = NAN;
  }
  const std::string nan_checkpoint = dir_.file("nan.pt");
  lenet5::engine::save_checkpoint(nan_checkpoint, net, nullptr, {});
  // A picture of a ring, then the same BMP cut short.
  lenet5::deploy::GrayImage ring(60, 60, 1.0f);
  for (int y = 0; y < 60; ++y) {
    for (int x = 0; x < 60; ++x) {
      const double r = std::hypot(x - 29.5, y - 29.5);
      if (r > 15 && r < 22) ring.at(x, y) = 0.0f;
    }
  }
  const std::string picture = dir_.file("evil\x1b[2J.pgm");
  lenet5::deploy::write_image(picture, ring);
  const auto pgm = lenet5::testing::read_file(picture);
  const std::string truncated = dir_.file("truncated.pgm");
  lenet5::testing::write_file(truncated, {pgm.begin(), pgm.end() - 600});

  const auto prediction = run_lenet5("predict --model " + model + " '" + picture + "'", dir_);
  EXPECT_EQ(prediction.exit_code, 0) << prediction.err;
  EXPECT_EQ(prediction.out.find('\x1b'), std::string::npos) << prediction.out;
  EXPECT_THAT(prediction.out, HasSubstr("evil\\x1B[2J.pgm: "));

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"predict --model " + model + " " + truncated, truncated +
                                                         ": truncated PGM/PPM: " + std::to_string(pgm.size() - 600) +
                                                         " bytes, header promises " + std::to_string(pgm.size())},
      {"predict --model " + model + " '" + dir_.file("evil\x1b[2J.png") + "'", "evil\\x1B[2J.png: image not found"},
      {"predict --model " + flipped + " " + truncated, flipped + ": corrupt model: tensor 'F6_weight' differs"},
      {"eval --checkpoint " + nan_checkpoint + " --data " + data_,
       nan_checkpoint + ": the model returns non-finite scores (NaN or infinity) for 10000 of 10000 images"},
  };
  for (const auto& [arguments, message] : cases) {
    const auto result = run_lenet5(arguments, dir_);
    EXPECT_EQ(result.exit_code, 1) << arguments << "\n" << result.err;
    EXPECT_THAT(result.err, HasSubstr(message)) << arguments;
    EXPECT_EQ(result.err.find('\x1b'), std::string::npos) << result.err;
    EXPECT_LE(lines_of(result.err).size(), 2u) << result.err;  // predict adds "1 of 1 images could not be read"
  }
}

// Under a strong shadow a digit gets the label it gets in even light, and digits side by side are read one
// by one, left to right, as the number they spell, with a view saved for each.
TEST_F(DeployCli, PredictReadsShadowedDigitsAndNumbers) {
  make_checkpoint(/*trained=*/true);
  const std::string model = dir_.file("model.pt");
  ASSERT_EQ(run_lenet5("export --checkpoint " + checkpoint_ + " --out " + model, dir_).exit_code, 0);
  const lenet5::data::MnistDataset test(data_, lenet5::data::Split::kTest);
  auto first_with_label = [&](int64_t label) {
    int64_t i = 0;
    while (test.targets()[i].item<int64_t>() != label) ++i;
    return test.images()[i];
  };
  std::string files;
  for (int i = 0; i < 6; ++i) {
    for (const bool shadow : {false, true}) {
      const std::string name = dir_.file("digit" + std::to_string(i) + (shadow ? "-shadow" : "") + ".png");
      lenet5::deploy::write_image(name, page_of({test.images()[i]}, {40}, shadow));
      files += " " + name;
    }
  }
  const std::vector<torch::Tensor> four_two{first_with_label(4), first_with_label(2)};
  lenet5::deploy::write_image(dir_.file("four.png"), page_of({four_two[0]}, {20}, false));
  lenet5::deploy::write_image(dir_.file("two.png"), page_of({four_two[1]}, {160}, false));
  lenet5::deploy::write_image(dir_.file("42.png"), page_of(four_two, {20, 160}, true));
  files += " " + dir_.file("four.png") + " " + dir_.file("two.png") + " " + dir_.file("42.png");

  const auto result =
      run_lenet5("predict --model " + model + " --top-k 1 --save-preprocessed " + dir_.file("seen") + files, dir_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto printed = lines_of(result.out);
  ASSERT_EQ(printed.size(), 12u + 2u + 3u) << result.out;
  auto label_in = [](const std::string& line) { return line.substr(line.find(": ") + 2, 1); };
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(label_in(printed[2 * i + 1]), label_in(printed[2 * i])) << printed[2 * i] << "\n" << printed[2 * i + 1];
  }
  const std::string number = label_in(printed[12]) + label_in(printed[13]);
  EXPECT_EQ(printed[14], dir_.file("42.png") + ": " + number + " (2 digits, left to right)");
  EXPECT_THAT(printed[15], ::testing::StartsWith(dir_.file("42.png") + "#1: " + number.substr(0, 1) + " ("));
  EXPECT_THAT(printed[16], ::testing::StartsWith(dir_.file("42.png") + "#2: " + number.substr(1, 1) + " ("));
  for (const char* view : {"seen/digit0-shadow.png", "seen/four.png", "seen/42-digit1.png", "seen/42-digit2.png"}) {
    EXPECT_EQ(lenet5::deploy::read_image(dir_.file(view)).width, 28) << view;
  }

  const auto json = run_lenet5("predict --json --model " + model + " " + dir_.file("42.png"), dir_);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto object = nlohmann::json::parse(json.out);
  EXPECT_EQ(object.at("number"), number);
  ASSERT_EQ(object.at("digits").size(), 2u);
  EXPECT_FALSE(object.contains("label")) << "a number has no single label";
  const auto& left = object.at("digits")[0].at("box");
  const auto& right = object.at("digits")[1].at("box");
  EXPECT_LT(left.at("x").get<int>() + left.at("width").get<int>(), right.at("x").get<int>());
  EXPECT_GE(left.at("x").get<int>(), 20);
  EXPECT_LE(right.at("x").get<int>() + right.at("width").get<int>(), 160 + 112);
}

}  // namespace
