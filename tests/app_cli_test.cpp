// The lenet5 executable end to end: exit codes (0 ok, 2 usage, 1 runtime) and one clear message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "test_files.h"

namespace {

using ::testing::HasSubstr;

using lenet5::testing::CommandResult;

CommandResult run_lenet5(const std::string& arguments) {
  const std::string command = std::string(LENET5_BINARY) + " " + arguments + " 2>&1";
  return lenet5::testing::run_shell(command);
}

TEST(AppCli, SummaryPrintsThePapersTotals) {
  const auto result = run_lenet5("summary --variant classic");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("Trainable parameters: 60,000"));
  EXPECT_THAT(result.output, HasSubstr("Connections:          340,908"));
  const auto json = run_lenet5("summary --variant modern --json");
  EXPECT_THAT(json.output, HasSubstr("\"trainable_parameters\": 61706"));
}

TEST(AppCli, UsageErrorsExitWithTwoAndNameTheFlag) {
  const std::string data = lenet5::testing::mnist_dir().empty() ? "/tmp" : lenet5::testing::mnist_dir();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --data " + data + " --epochs 0", "--epochs"},
      {"train --data " + data + " --batch-size -3", "--batch-size"},
      {"train --data " + data + " --optimizer lbfgs", "--optimizer"},
      {"train --data /nonexistent/folder", "--data"},
      {"train --data " + data + " --device tpu", "--device"},
      {"train --data " + data + " --device cuda:x", "--device"},
      {"summary --variant huge", "--variant"},
      {"frobnicate", "subcommand"},
      {"eval --data " + data, "--checkpoint"},
  };
  for (const auto& [arguments, flag] : cases) {
    const auto result = run_lenet5(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.output;
    EXPECT_THAT(result.output, HasSubstr(flag)) << arguments;
  }
}

TEST(AppCli, CudaWithoutCudaIsAClearError) {
  if (lenet5::testing::mnist_dir().empty()) GTEST_FAIL() << "real MNIST missing: run scripts/fetch_data.sh";
  lenet5::testing::TempDir dir;
  const auto result = run_lenet5("train --data " + lenet5::testing::mnist_dir() + " --device cuda --out " + dir.file("run"));
  if (result.output.find("training on cuda") != std::string::npos) GTEST_SKIP() << "CUDA is available here";
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--device cuda: CUDA is not available"));
}

TEST(AppCli, RuntimeErrorsExitWithOneAndNameTheFile) {
  lenet5::testing::TempDir dir;
  lenet5::testing::write_file(dir.file("t10k-images-idx3-ubyte"), {0, 0, 8, 3, 0, 0});
  lenet5::testing::write_file(dir.file("t10k-labels-idx1-ubyte"), {0, 0, 8, 1, 0, 0, 0, 1, 3});
  lenet5::testing::write_file(dir.file("model.pt"), {'n', 'o', 't'});
  auto result = run_lenet5("eval --checkpoint " + dir.file("model.pt") + " --data " + dir.path());
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr(dir.file("model.pt") + ": not a readable checkpoint"));

  result = run_lenet5("train --data " + dir.path() + " --out " + dir.file("run"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("train-images-idx3-ubyte"));
}

}  // namespace
