// The error contract of the command line, in-process through lenet5::app::run (the function main calls):
// each usage error exits 2, each runtime error 1, and every error is ONE line that names the flag, word or
// file first. Process-level wiring (exit codes of the real executable) is app_cli_test's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "cli_runner.h"
#include "lenet5/deploy/export.h"
#include "lenet5/engine/checkpoint.h"
#include "test_files.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using Outcome = lenet5::testing::CliOutcome;
using lenet5::testing::run_cli;

// Sets or clears an environment variable for one test.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    if (value != nullptr)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnvironment() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

struct ErrorCase {
  std::vector<std::string> arguments;
  int code;
  std::string starts_with;  // after "lenet5: error: "
  std::vector<std::string> contains;
};

void expect_one_line_error(const ErrorCase& c, const Outcome& outcome) {
  std::string command = "lenet5";
  for (const auto& a : c.arguments) command += " " + a;
  EXPECT_EQ(outcome.code, c.code) << command << "\n" << outcome.err;
  EXPECT_THAT(outcome.err, StartsWith("lenet5: error: " + c.starts_with)) << command;
  EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << command << "\n" << outcome.err;
  for (const auto& part : c.contains) EXPECT_THAT(outcome.err, HasSubstr(part)) << command;
  // Numbers are printed as typed: no 1.79769e+308, no 17976931348623157..., no 0.000000.
  for (const char* unreadable : {"e+308", "1797693134862315", "0.000000", "stoi", "stoll"}) {
    EXPECT_THAT(outcome.err, Not(HasSubstr(unreadable))) << command;
  }
}

std::string data_dir() {
  const std::string mnist = lenet5::testing::mnist_dir();
  return mnist.empty() ? "/tmp" : mnist;  // only flags are checked: any existing folder will do
}

TEST(AppCliErrors, UsageErrorsNameTheWordOrFlagFirst) {
  ScopedEnvironment no_data("LENET5_DATA_DIR", nullptr);
  const std::string d = data_dir();
  const std::vector<ErrorCase> cases = {
      {{"trian"}, 2, "unknown subcommand 'trian'; did you mean 'train'?", {}},
      {{"help"}, 2, "unknown subcommand 'help'", {"lenet5 --help"}},
      {{"frobnicate", "--data", d}, 2, "unknown subcommand 'frobnicate'", {}},
      {{}, 2, "a subcommand is required", {"train", "predict"}},
      {{"train", "--epocs", "1"}, 2, "unknown flag '--epocs' for lenet5 train; did you mean '--epochs'?", {}},
      {{"train", "--data", d, "--batchsize", "3"}, 2, "unknown flag '--batchsize'", {"'--batch-size'"}},
      {{"eval", "--data", d, "--modle=x.pt"}, 2, "unknown flag '--modle=x.pt'", {"did you mean '--model'?"}},
      {{"train", "--data", d, "extra"}, 2, "unexpected argument 'extra' for lenet5 train", {}},
      {{"predict", "--model", "m.pt", "-dash.jpg"},
       2,
       "unknown flag '-dash.jpg' for lenet5 predict",
       {"-- -dash.jpg", "./-dash.jpg"}},
      {{"train"}, 2, "--data is required", {"LENET5_DATA_DIR"}},
      {{"train", "--data", "/nonexistent/folder"}, 2, "--data: Directory does not exist: /nonexistent/folder", {}},
      {{"eval", "--data", d}, 2, "--checkpoint/--model", {}},
      {{"summary", "--variant", "clasic"},
       2,
       "--variant: unknown value 'clasic'; expected modern or classic",
       {"did you mean 'classic'?"}},
      {{"train", "--data", d, "--optimizer", "lbfgs"}, 2, "--optimizer: unknown value 'lbfgs'", {"sgd, adam or adamw"}},
      {{"train", "--data", d, "--device", "tpu"}, 2, "--device: unknown device 'tpu'", {"auto, cpu, cuda or cuda:N"}},
      {{"train", "--data", d, "--device", "cuda:x"}, 2, "--device: malformed device 'cuda:x'", {}},
      {{"train", "--data", d, "--device", "cuda:99999999999"},
       2,
       "--device: GPU number 99999999999 is out of range",
       {}},
      {{"predict", "--model", "m.pt", "--device", "cpu:1", "a.png"}, 2, "--device: malformed device 'cpu:1'", {}},
      {{"train", "--data", d, "--device", "cpu", "--nproc", "2", "--dist-backend", "nccl"},
       2,
       "--dist-backend nccl: NCCL joins CUDA GPUs; on CPU use gloo",
       {}},
      {{"train", "--data", d, "--epochs", "0"},
       2,
       "--epochs: 0 is out of range; expected a whole number from 1 to 1,000,000",
       {}},
      {{"train", "--data", d, "--epochs", "1.5"}, 2, "--epochs: 1.5 is not a whole number", {}},
      {{"train", "--data", d, "--epochs", "abc"}, 2, "--epochs: 'abc' is not a whole number", {}},
      {{"train", "--data", d, "--batch-size", "-3"}, 2, "--batch-size: -3 is out of range", {}},
      {{"train", "--data", d, "--batch-size", "9223372036854775808"},
       2,
       "--batch-size: 9223372036854775808 is out of range",
       {}},
      {{"train", "--data", d, "--momentum", "1"},
       2,
       "--momentum: 1 is out of range; expected a number from 0 to 0.999",
       {}},
      {{"train", "--data", d, "--lr", "0"}, 2, "--lr: 0 is out of range; expected a number above 0 and at most 10", {}},
      {{"train", "--data", d, "--lr", "nan"}, 2, "--lr: nan is not finite", {}},
      {{"train", "--data", d, "--lr", "1e999"}, 2, "--lr: 1e999 is out of range", {}},
      {{"train", "--data", d, "--lr", "1e99999"}, 2, "--lr: 1e99999 is not finite", {}},
      {{"train", "--data", d, "--seed", "-1"}, 2, "--seed: -1 is out of range", {}},
      {{"train", "--data", d, "--target-accuracy", "0"},
       2,
       "--target-accuracy: 0 is out of range",
       {"above 0 and at most 100"}},
      {{"train", "--data", d, "--threads", "2000"}, 2, "--threads: 2000 is out of range", {"from 0 to 1,024"}},
      {{"bench", "--seconds", "nan"}, 2, "--seconds: nan is not finite", {}},
      {{"bench", "--seconds", "-inf"}, 2, "--seconds: -inf is not finite", {}},
      {{"bench", "--seconds", "1e9"}, 2, "--seconds: 1e9 is out of range", {"3,600"}},
      {{"bench", "--threads", "100000"},
       2,
       "--threads: 100000 is out of range; expected a whole number from 0 to 1,024",
       {}},
      {{"bench", "--batch-sizes", "99999999999"}, 2, "--batch-sizes: 99999999999 is out of range", {"65,536"}},
      {{"bench", "--batch-sizes", "1,100000000"}, 2, "--batch-sizes: 100000000 is out of range", {}},
      {{"bench", "--iters", "0"}, 2, "--iters: 0 is out of range", {}},
      {{"bench", "--warmup", "1e12"}, 2, "--warmup: 1e12 is not a whole number", {}},
      {{"bench", "--modes", "eagre"}, 2, "--modes: unknown value 'eagre'", {"did you mean 'eager'?"}},
      {{"bench", "--modes", "eager,trian"}, 2, "--modes: unknown value 'trian'", {"did you mean 'train'?"}},
      {{"train", "--data", d, "--dataset", "fashion"},
       2,
       "--dataset: unknown value 'fashion'",
       {"expected mnist or fashion-mnist"}},
      {{"train", "--data", d, "--schedule", "cosin"},
       2,
       "--schedule: unknown value 'cosin'",
       {"none, step, cosine, onecycle or paper", "did you mean 'cosine'?"}},
      {{"eval", "--model", "m.pt", "--data", d, "--split", "val"},
       2,
       "--split: unknown value 'val'",
       {"expected test or train"}},
      // An enum's numbers are not names (CLI11's CheckedTransformer alone would take them).
      {{"summary", "--variant", "1"}, 2, "--variant: unknown value '1'; expected modern or classic", {}},
      {{"bench", "--modes", "0"}, 2, "--modes: unknown value '0'", {}},
      {{"train", "--data", d, "--optimizer", "2"}, 2, "--optimizer: unknown value '2'", {}},
      {{"eval", "--model", "m.pt", "--data", d, "--batch-size", "0"}, 2, "--batch-size: 0 is out of range", {}},
      {{"predict", "--model", "m.pt", "--top-k", "11", "a.png"}, 2, "--top-k: 11 is out of range", {"from 1 to 10"}},
  };
  for (const auto& c : cases) expect_one_line_error(c, run_cli(c.arguments));
}

// Every numeric flag of every subcommand goes through the one number check, and so refuses NaN, infinities
// and absurd magnitudes the same way.
TEST(AppCliErrors, EveryNumericFlagRefusesNanInfAndAbsurdValues) {
  auto app = lenet5::app::make_app();
  int checked = 0;
  for (auto* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    for (auto* option : sub->get_options()) {
      const std::string type = option->get_type_name();
      if (type.find("INT") == std::string::npos && type.find("FLOAT") == std::string::npos &&
          type.find("NUMBER") == std::string::npos) {
        continue;
      }
      const std::string flag = option->get_name();
      EXPECT_NO_THROW(option->get_validator("number")) << sub->get_name() << " " << flag << " (" << type << ")";
      for (const std::string value : {"nan", "inf", "-inf", "1e300", "-1e300", "99999999999999999999"}) {
        const auto outcome = run_cli({sub->get_name(), flag, value});
        EXPECT_EQ(outcome.code, 2) << sub->get_name() << " " << flag << " " << value << ": " << outcome.err;
        EXPECT_THAT(outcome.err, StartsWith("lenet5: error: " + flag + ": ")) << sub->get_name() << " " << value;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 18);  // train 11, eval 1, predict 1, bench 5
}

TEST(AppCliErrors, DataFolderFromTheEnvironmentIsCheckedLikeTheFlag) {
  lenet5::testing::TempDir dir;
  ScopedEnvironment data("LENET5_DATA_DIR", dir.path().c_str());
  const auto outcome = run_cli({"train", "--epochs", "1"});
  expect_one_line_error({{"train", "--epochs", "1"},
                         2,
                         "--data (default $LENET5_DATA_DIR/mnist): Directory does not exist: " + dir.file("mnist"),
                         {}},
                        outcome);
  // A typo is still named first, before anything about the data.
  const auto typo = run_cli({"train", "--epocs", "1"});
  EXPECT_THAT(typo.err, StartsWith("lenet5: error: unknown flag '--epocs'"));
}

TEST(AppCliErrors, ExportedModelPassedAsCheckpointSaysToUseModel) {
  lenet5::testing::TempDir dir;
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  lenet5::deploy::export_torchscript(net, lenet5::deploy::ExportMetadata{}, dir.file("model.pt"), false);
  expect_one_line_error(
      {{}, 1, dir.file("model.pt") + ": is an exported TorchScript model", {"evaluate it with --model"}},
      run_cli({"eval", "--checkpoint", dir.file("model.pt"), "--data", dir.path()}));
  expect_one_line_error({{}, 1, dir.file("model.pt") + ": is an exported TorchScript model", {"--model"}},
                        run_cli({"bench", "--checkpoint", dir.file("model.pt"), "--iters", "1"}));
  expect_one_line_error({{}, 1, dir.file("model.pt") + ": is an exported TorchScript model", {"exported already"}},
                        run_cli({"export", "--checkpoint", dir.file("model.pt"), "--out", dir.file("again.pt")}));
  // The reverse case: a checkpoint where an exported model belongs.
  lenet5::engine::save_checkpoint(dir.file("checkpoint.pt"), net, nullptr, lenet5::engine::CheckpointInfo{});
  expect_one_line_error({{}, 1, dir.file("checkpoint.pt") + ": is a training checkpoint", {"lenet5 export"}},
                        run_cli({"eval", "--model", dir.file("checkpoint.pt"), "--data", dir.path()}));
}

TEST(AppCliErrors, LibTorchErrorsAreOneLineWithoutBacktrace) {
  auto app = lenet5::app::make_app();
  app->add_subcommand("torch-fails")->callback([] { TORCH_CHECK(false, "the tensor is too large\nsecond line"); });
  const auto outcome = run_cli({"torch-fails"}, app.get());
  expect_one_line_error({{"torch-fails"}, 1, "the tensor is too large", {}}, outcome);
  EXPECT_THAT(outcome.err, Not(HasSubstr("Exception raised from")));
}

TEST(AppCliErrors, MissingCudaDeviceIsARuntimeError) {
  lenet5::testing::TempDir dir;
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  lenet5::deploy::export_torchscript(net, lenet5::deploy::ExportMetadata{}, dir.file("model.pt"), false);
  const auto outcome = run_cli({"bench", "--model", dir.file("model.pt"), "--device", "cuda:7", "--iters", "1"});
  if (outcome.code == 0) GTEST_SKIP() << "a CUDA device 7 exists here";
  expect_one_line_error({{}, 1, "--device cuda:7: ", {}}, outcome);
}

// Each name of an enum's table reaches the command as its value.
TEST(AppCliEnums, EveryNameParsesIntoItsValue) {
  for (const auto& [name, variant] : lenet5::model::variant_names()) {
    const auto outcome = run_cli({"summary", "--variant", name});
    EXPECT_EQ(outcome.code, 0) << outcome.err;
    EXPECT_THAT(outcome.out, StartsWith("LeNet-5 (" + name + ")"));
  }
  const auto bench = run_cli({"bench", "--modes", "torchscript,eager", "--batch-sizes", "1", "--iters", "1", "--warmup",
                              "0", "--threads", "1", "--json"});
  ASSERT_EQ(bench.code, 0) << bench.err;
  EXPECT_LT(bench.out.find("\"mode\":\"torchscript\""), bench.out.find("\"mode\":\"eager\"")) << bench.out;
  EXPECT_EQ(bench.out.find("\"mode\":\"optimized\""), std::string::npos) << bench.out;
}

TEST(AppCliErrors, HelpAndVersionExitZero) {
  EXPECT_EQ(run_cli({"--help"}).code, 0);
  EXPECT_EQ(run_cli({"train", "--help"}).code, 0);
  const auto version = run_cli({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_THAT(version.out, StartsWith("lenet5 "));
}

}  // namespace

namespace {

// Changes the working directory for one test.
class ScopedWorkingDirectory {
 public:
  explicit ScopedWorkingDirectory(const std::string& dir) : old_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~ScopedWorkingDirectory() { std::filesystem::current_path(old_); }

 private:
  std::filesystem::path old_;
};

// train without --out: the run folder is linked as runs/latest, and the last lines say where best.pt, the
// report and the export command are, with paths that exist (the README's examples use them).
TEST(AppCliTrain, DefaultRunFolderIsLinkedAsLatestAndPrinted) {
  LENET5_REQUIRE_MNIST();
  lenet5::testing::TempDir dir;
  ScopedWorkingDirectory cwd(dir.path());
  const std::vector<std::string> train = {"train",
                                          "--data",
                                          lenet5::testing::mnist_dir(),
                                          "--epochs",
                                          "1",
                                          "--limit-train",
                                          "256",
                                          "--limit-test",
                                          "100",
                                          "--threads",
                                          "1"};
  const auto first = run_cli(train);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("best model:  runs/latest/best.pt\n"));
  EXPECT_THAT(first.out, HasSubstr("report:      runs/latest/report.html\n"));
  EXPECT_THAT(first.out, HasSubstr("export with: lenet5 export --checkpoint runs/latest/best.pt"));
  EXPECT_TRUE(std::filesystem::is_symlink("runs/latest"));
  EXPECT_TRUE(std::filesystem::is_regular_file("runs/latest/best.pt"));
  EXPECT_TRUE(std::filesystem::is_regular_file("runs/latest/report.html"));
  const auto first_target = std::filesystem::read_symlink("runs/latest");

  const auto second = run_cli(train);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(std::filesystem::read_symlink("runs/latest"), first_target);
  EXPECT_TRUE(std::filesystem::is_regular_file("runs" / first_target / "best.pt"));
  // The export command it prints works as printed.
  const auto exported = run_cli({"export", "--checkpoint", "runs/latest/best.pt", "--out", "runs/latest/lenet5.pt"});
  EXPECT_EQ(exported.code, 0) << exported.err;
}

}  // namespace
