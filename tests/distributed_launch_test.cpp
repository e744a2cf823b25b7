// Data-parallel training through the executable: `lenet5 train --nproc 2`, Debian's torchrun, a rank killed
// with SIGKILL (the others stop with a line naming it), torchrun restarting the group after such a kill (the run
// resumes: every epoch once in metrics.jsonl), and launch environments that are wrong.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "readme_blocks.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::testing::CommandResult;
using lenet5::testing::TempDir;

constexpr const char* kTorchrun = "/usr/bin/torchrun";

std::string train_flags(const std::string& out, int epochs, int images) {
  return std::string(" train --data ") + lenet5::testing::mnist_dir() + " --limit-train " + std::to_string(images) +
         " --limit-test 500 --epochs " + std::to_string(epochs) + " --out " + out + " --threads 1";
}

CommandResult run(const std::string& script) {
  return lenet5::testing::run_shell("timeout -s KILL 120 bash -c '" + script + "' 2>&1");
}

std::vector<nlohmann::json> metrics_of(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

nlohmann::json config_of(const std::string& run_dir) {
  std::ifstream in(run_dir + "/config.json");
  return nlohmann::json::parse(in);
}

// Bash: the pid of the child of $1 that is rank $2 (named lenet5-rank$2 when forked by --nproc, RANK=$2 in its
// environment when started by torchrun), once it exists (waits up to 20 s).
const char* kFindRank =
    "rank_pid() { for i in $(seq 400); do for p in $(pgrep -P $1); do "
    "{ grep -qx lenet5-rank$2 /proc/$p/comm || tr \"\\0\" \"\\n\" < /proc/$p/environ | grep -qx RANK=$2; } "
    "2>/dev/null && { echo $p; return; }; done; "
    "sleep 0.05; done; }; "
    "wait_epoch() { for i in $(seq 600); do grep -q \"\\\"epoch\\\":$2\" $1/metrics.jsonl 2>/dev/null && return; "
    "sleep 0.05; done; }; ";

// CPU ranks join over Gloo; a build without it (a LibTorch whose Gloo headers were not found) cannot run them.
#define LENET5_REQUIRE_GLOO() \
  if (!LENET5_HAS_GLOO) GTEST_SKIP() << "this lenet5 has no c10d Gloo backend: CPU ranks cannot join"

// The README's launch commands, as printed, from a folder whose .data is the real data; each run made short.
TEST(DistributedLaunch, ReadmeCommandsTrainWithTwoRanks) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  if (!fs::exists(kTorchrun)) GTEST_SKIP() << kTorchrun << " is not installed (Debian: python3-torch)";
  const auto blocks = lenet5::testing::fenced_blocks(lenet5::testing::read_text(LENET5_README), "sh",
                                                     "## Distributed training (data parallel, c10d)");
  ASSERT_FALSE(blocks.empty()) << "README: no sh block under '## Distributed training (data parallel, c10d)'";
  std::istringstream lines(blocks.front());
  TempDir dir;
  fs::create_directory_symlink(fs::path(lenet5::testing::mnist_dir()).parent_path(), dir.file(".data"));
  int commands = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    ++commands;
    const auto out = line.substr(line.find("--out ") + 6);
    const auto result = run("cd " + dir.path() + " && PATH=" + fs::path(LENET5_BINARY).parent_path().string() +
                            ":$PATH " + line + " --epochs 1 --limit-train 2000 --limit-test 500");
    ASSERT_EQ(result.exit_code, 0) << line << "\n" << result.output;
    EXPECT_EQ(metrics_of(dir.file(out)).size(), 1U) << line;
    EXPECT_EQ(config_of(dir.file(out)).at("world_size"), 2) << line;
    const bool torchrun = line.rfind("torchrun", 0) == 0;
    EXPECT_NE(result.output.find(torchrun ? "[default0]:run folder:" : "run folder:"), std::string::npos)
        << result.output;
  }
  EXPECT_EQ(commands, 3);
}

TEST(DistributedLaunch, AKilledRankStopsTheOthersWithALineNamingIt) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  TempDir dir;
  const std::string out = dir.file("run");
  const auto result =
      run(std::string(kFindRank) + LENET5_BINARY + train_flags(out, 3, 6400) + " --nproc 2 & launcher=$!; wait_epoch " +
          out + " 1; kill -9 $(rank_pid $launcher 1); " + "start=$(date +%s%N); wait $launcher; code=$?; " +
          "echo \"launcher exit $code after $(( ($(date +%s%N) - start) / 1000000 )) ms\"");
  EXPECT_NE(result.output.find("lenet5: error: rank 1 was killed by signal 9 (SIGKILL); stopped the other rank"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("launcher exit 1 after"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("rank 0: rank 1 (pid "), std::string::npos) << result.output;
  const auto ms = std::stol(result.output.substr(result.output.find(" after ") + 7));
  EXPECT_LT(ms, 10000) << result.output;
  // The run folder is whole: it resumes (alone) to the end.
  const auto resumed = run(std::string(LENET5_BINARY) + " train --resume --out " + out);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(metrics_of(out).size(), 3U);
  std::cout << result.output.substr(result.output.find("launcher exit")) << std::flush;
}

TEST(DistributedLaunch, TorchrunRestartsAKilledGroupWhichResumes) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  if (!fs::exists(kTorchrun)) GTEST_SKIP() << kTorchrun << " is not installed (Debian: python3-torch)";
  TempDir dir;
  const std::string out = dir.file("run");
  const auto result = run(std::string(kFindRank) + kTorchrun +
                          " --nnodes 1 --nproc_per_node 2 --rdzv_backend c10d --rdzv_endpoint 127.0.0.1:0 " +
                          "--max_restarts 1 --monitor_interval 0.2 --redirects 1 --tee 1 --no_python " + LENET5_BINARY +
                          train_flags(out, 3, 3200) + " & agent=$!; wait_epoch " + out +
                          " 1; kill -9 $(rank_pid $agent 1); wait $agent; echo \"torchrun exit $?\"");
  EXPECT_NE(result.output.find("torchrun exit 0"), std::string::npos) << result.output;
  const auto metrics = metrics_of(out);
  ASSERT_EQ(metrics.size(), 3U) << result.output;
  for (size_t i = 0; i < metrics.size(); ++i) EXPECT_EQ(metrics[i].at("epoch"), i + 1);
  const auto config = config_of(out);
  ASSERT_EQ(config.at("resumes").size(), 1U) << config.dump();
  EXPECT_EQ(config.at("resumes").at(0).at("world_size"), 2);
}

TEST(DistributedLaunch, WrongLaunchEnvironmentsAreOneLineErrors) {
  LENET5_REQUIRE_MNIST();
  TempDir dir;
  const std::string train = std::string(LENET5_BINARY) + train_flags(dir.file("run"), 1, 100);
  auto rank2 = run("RANK=2 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29999 " + train);
  EXPECT_EQ(rank2.exit_code, 2);
  EXPECT_EQ(rank2.output, "lenet5: error: RANK=2 is not below WORLD_SIZE=2: ranks are numbered 0 to WORLD_SIZE-1\n");
  // (A port in use and an unreachable master: distributed_group_test, in-process.)
  auto alone = run("RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$(( 20000 + $$ % 20000 )) " + train +
                   " --dist-timeout 1");
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_NE(alone.output.find("lenet5: error: rank 0: only 1 of WORLD_SIZE=2 ranks joined within 1 s"),
            std::string::npos)
      << alone.output;
  EXPECT_FALSE(fs::exists(dir.file("run"))) << "a failed join leaves no run folder";
}

TEST(DistributedLaunch, SigtermToTheLauncherStopsEveryRankBeforeTheSameStep) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  TempDir dir;
  const std::string out = dir.file("run");
  const auto result =
      run(std::string(kFindRank) + LENET5_BINARY + train_flags(out, 6, 6400) + " --nproc 2 & launcher=$!; wait_epoch " +
          out + " 1; kill -TERM $launcher; " + "wait $launcher; echo \"launcher exit $?\"");
  EXPECT_NE(result.output.find("launcher exit 143"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("lenet5: training stopped; "), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("lost"), std::string::npos) << result.output;  // no rank left the others behind
  EXPECT_EQ(result.output.find("error"), std::string::npos) << result.output;
  EXPECT_LT(metrics_of(out).size(), 6U);
}

}  // namespace
