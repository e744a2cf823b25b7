// The lenet5 executable end to end: exit codes (0 ok, 2 usage, 1 runtime) and one clear message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
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
  EXPECT_THAT(json.output, HasSubstr("\"trainable_parameters\":61706"));
}

// The error policy itself is app_cli_run_test's (in-process); these check the process wiring only.
TEST(AppCli, UsageErrorsExitWithTwoOnOneLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"trian", "lenet5: error: unknown subcommand 'trian'; did you mean 'train'?"},
      {"bench --seconds nan", "lenet5: error: --seconds: nan is not finite"},
  };
  for (const auto& [arguments, message] : cases) {
    const auto result = run_lenet5(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.output;
    EXPECT_THAT(result.output, ::testing::StartsWith(message)) << arguments;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }
  EXPECT_EQ(run_lenet5("--help").exit_code, 0);
}

TEST(AppCli, MissingCudaIsARuntimeError) {
  LENET5_REQUIRE_MNIST();
  lenet5::testing::TempDir dir;
  const auto result =
      run_lenet5("train --data " + lenet5::testing::mnist_dir() + " --device cuda --out " + dir.file("run"));
  if (result.output.find("training on cuda") != std::string::npos) GTEST_SKIP() << "CUDA is available here";
  EXPECT_EQ(result.exit_code, 1) << result.output;
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
