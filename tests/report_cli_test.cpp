// lenet5 visualize and lenet5 report end to end (torch-free test code).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::testing::TempDir;
using ::testing::HasSubstr;

using lenet5::testing::CommandResult;

CommandResult run_lenet5(const std::string& arguments) {
  const std::string command = std::string(LENET5_BINARY) + " " + arguments + " 2>&1";
  return lenet5::testing::run_shell(command);
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string read_text(const std::string& path) {
  const auto bytes = lenet5::testing::read_file(path);
  return {bytes.begin(), bytes.end()};
}

TEST(ReportCli, VisualizeWritesTheDiagramAndForClassicTheC3Table) {
  TempDir dir;
  auto result = run_lenet5("visualize --variant classic --out " + dir.file("figs/lenet.svg"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(read_text(dir.file("figs/lenet.svg")), HasSubstr("60,000 trainable parameters"));
  EXPECT_THAT(read_text(dir.file("figs/lenet-c3.svg")), HasSubstr("60 of 96 possible connections"));
  result = run_lenet5("visualize --variant modern --out " + dir.file("modern.svg"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(read_text(dir.file("modern.svg")), HasSubstr("Max pooling"));
  EXPECT_FALSE(fs::exists(dir.file("modern-c3.svg")));
}

TEST(ReportCli, VisualizePngNeedsRsvgConvert) {
  TempDir dir;
  const auto result = run_lenet5("visualize --variant classic --png --out " + dir.file("lenet.svg"));
  if (fs::exists("/usr/bin/rsvg-convert")) {
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_GT(fs::file_size(dir.file("lenet.png")), 1000u);
    EXPECT_GT(fs::file_size(dir.file("lenet-c3.png")), 1000u);
  } else {
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("rsvg-convert"));
  }
}

TEST(ReportCli, UsageErrorsExitWithTwo) {
  TempDir dir;
  auto result = run_lenet5("visualize --out " + dir.file("lenet.png"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--out"));
  result = run_lenet5("report " + dir.file("missing"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("RUN_DIR"));
  result = run_lenet5("report " + dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("holds no training run"));
}

TEST(ReportCli, ReportRegeneratesTheRunsPage) {
  TempDir dir;
  write_text(dir.file("config.json"),
             R"({"variant": "modern", "dataset": "mnist", "epochs": 1, "data_dir": "/nonexistent"})");
  write_text(
      dir.file("metrics.jsonl"),
      R"({"epoch": 1, "train_loss": 0.3, "train_accuracy": 0.9, "test_loss": 0.1, "test_accuracy": 0.97, "lr": 0.001, "seconds": 2, "images_per_second": 3000})"
      "\n");
  auto result = run_lenet5("report " + dir.path());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr(dir.file("report.html")));
  const std::string html = read_text(dir.file("report.html"));
  EXPECT_THAT(html, HasSubstr("97.00%"));
  EXPECT_THAT(html, HasSubstr("LeNet-5 (modern)"));
  write_text(dir.file("evaluation.json"), "{broken");
  result = run_lenet5("report " + dir.path());
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr(dir.file("evaluation.json") + ": malformed JSON"));
}

// evaluation.json of a run scored on the first ten MNIST test images (labels 7 2 1 0 4 1 4 9 5 9), all right
// but for the first, listed as a mistake.
std::string mnist_evaluation() {
  const int counts[10] = {1, 2, 1, 0, 2, 1, 0, 1, 0, 2};
  std::string confusion = "[";
  for (int t = 0; t < 10; ++t) {
    confusion += t == 0 ? "[" : ",[";
    for (int p = 0; p < 10; ++p) confusion += (p == 0 ? "" : ",") + std::to_string(p == t ? counts[t] : 0);
    confusion += "]";
  }
  confusion += "]";
  return R"({"n": 10, "accuracy": 0.9, "loss": 0.2, "per_class_accuracy": [1,1,1,0,1,1,0,1,0,1], "confusion": )" +
         confusion + R"(, "worst_mistakes": [{"index": 0, "label": 7, "predicted": 1, "confidence": 0.9}]})";
}

TEST(ReportCli, DataOfAnotherDatasetIsRefused) {
  LENET5_REQUIRE_MNIST();
  LENET5_REQUIRE_FASHION_MNIST();
  TempDir dir;
  write_text(dir.file("config.json"),
             R"({"variant": "modern", "dataset": "mnist", "epochs": 1, "data_dir": "/nonexistent"})");
  write_text(dir.file("evaluation.json"), mnist_evaluation());
  auto result = run_lenet5("report " + dir.path() + " --data " + lenet5::testing::mnist_dir());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  result = run_lenet5("report " + dir.path() + " --data " + lenet5::testing::fashion_mnist_dir());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--data: the test labels in " + lenet5::testing::fashion_mnist_dir() +
                                       " are not those this run was evaluated on (its dataset: mnist"));
}

}  // namespace
