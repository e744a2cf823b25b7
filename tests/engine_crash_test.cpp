// Crash safety end to end: a real `lenet5 train` child is killed with SIGKILL at random moments mid-run,
// twice, then resumed to completion. The run folder must then be whole: metrics for epochs 1..4 exactly once
// and in order, every JSON file parses, both checkpoints load at the right epoch, no temporary file is left.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_files.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using lenet5::testing::TempDir;
using ::testing::HasSubstr;

constexpr int kEpochs = 4;

std::vector<std::string> train_arguments(const std::string& out, bool resume) {
  std::vector<std::string> arguments = {LENET5_BINARY, "train", "--data", lenet5::testing::mnist_dir(),
                                        "--limit-train", "6400", "--limit-test", "1000",
                                        "--epochs", std::to_string(kEpochs), "--out", out, "--threads", "1"};
  if (resume) arguments.push_back("--resume");
  return arguments;
}

// A child process running lenet5, its output appended to `log`.
class Child {
 public:
  Child(const std::vector<std::string>& arguments, const std::string& log) {
    std::vector<char*> argv;
    for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  bool started() const { return pid_ > 0; }
  // The exit status once the child has ended; nothing while it runs.
  std::optional<int> poll() {
    if (!status_ && pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    }
    return status_;
  }
  int wait() {
    while (!status_) {
      int status = 0;
      if (::waitpid(pid_, &status, 0) == pid_) status_ = status;
    }
    return *status_;
  }
  void kill_now() {
    ::kill(pid_, SIGKILL);
    wait();
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

std::optional<fs::file_time_type> modified(const std::string& path) {
  std::error_code error;
  const auto time = fs::last_write_time(path, error);
  if (error) return std::nullopt;
  return time;
}

// Waits until `path` is written after `since` (or appears when `since` is empty); false when the child
// ends first or after `limit`.
bool wait_for_new_file(Child& child, const std::string& path, std::optional<fs::file_time_type> since,
                       std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    const auto now = modified(path);
    if (now && (!since || *now != *since)) return true;
    if (child.poll()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using lenet5::testing::CommandResult;

CommandResult run_command(const std::string& command) {
  return lenet5::testing::run_shell("exec timeout -s KILL 120 " + command + " 2>&1");
}

TEST(EngineCrash, KilledTwiceMidEpochThenResumedLeavesAWholeRun) {
  if (lenet5::testing::mnist_dir().empty()) GTEST_FAIL() << "real MNIST missing: run scripts/fetch_data.sh";
  TempDir dir;
  const std::string run = dir.file("run");
  const std::string log = dir.file("train.log");
  const std::string checkpoint = run + "/checkpoint.pt";
  std::random_device entropy;
  std::mt19937 random(entropy());

  // First run: the time between its first two checkpoints is an epoch; killed at a random moment of the next.
  std::chrono::milliseconds epoch_time{0};
  const auto random_delay = [&] {
    const int most = std::max(1, static_cast<int>(epoch_time.count() * 9 / 10));
    return std::chrono::milliseconds(std::uniform_int_distribution<int>(0, most)(random));
  };
  {
    Child child(train_arguments(run, false), log);
    ASSERT_TRUE(child.started());
    ASSERT_TRUE(wait_for_new_file(child, checkpoint, std::nullopt, std::chrono::seconds(300)))
        << "no checkpoint.pt appeared\n" << read_text(log);
    const auto first = Clock::now();
    ASSERT_TRUE(wait_for_new_file(child, checkpoint, modified(checkpoint), std::chrono::seconds(300)))
        << "no second checkpoint\n" << read_text(log);
    epoch_time = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - first);
    const auto delay = random_delay();
    std::this_thread::sleep_for(delay);
    child.kill_now();
    std::printf("first kill: %lld ms after the second checkpoint (an epoch takes about %lld ms)\n",
                static_cast<long long>(delay.count()), static_cast<long long>(epoch_time.count()));
  }
  // Second run, resumed: killed at a random moment after it has written a checkpoint of its own.
  {
    const auto before = modified(checkpoint);
    Child child(train_arguments(run, true), log);
    ASSERT_TRUE(child.started());
    if (wait_for_new_file(child, checkpoint, before, std::chrono::seconds(300))) {
      const auto delay = random_delay();
      std::this_thread::sleep_for(delay);
      std::printf("second kill: %lld ms after a new checkpoint\n", static_cast<long long>(delay.count()));
    }
    if (child.poll()) {
      std::printf("the second run ended before it could be killed\n");
      ASSERT_TRUE(WIFEXITED(*child.poll()) && WEXITSTATUS(*child.poll()) == 0) << read_text(log);
    } else {
      child.kill_now();
    }
  }
  // Resumed to completion.
  {
    Child child(train_arguments(run, true), log);
    ASSERT_TRUE(child.started());
    const int status = child.wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(log);
  }

  // metrics.jsonl: epochs 1..4, once each, in order.
  std::ifstream metrics(run + "/metrics.jsonl");
  std::string line;
  std::vector<int> epochs;
  while (std::getline(metrics, line)) {
    const auto parsed = nlohmann::json::parse(line);  // throws on a torn line
    epochs.push_back(parsed.at("epoch").get<int>());
  }
  EXPECT_EQ(epochs, (std::vector<int>{1, 2, 3, 4})) << read_text(run + "/metrics.jsonl");

  // Every file of the run folder is one the run owns (no temporary file left), and each is whole.
  const std::set<std::string> required = {"checkpoint.pt", "best.pt", "metrics.jsonl", "config.json",
                                          "evaluation.json"};
  std::set<std::string> found;
  for (const auto& entry : fs::directory_iterator(run)) {
    const std::string name = entry.path().filename().string();
    found.insert(name);
    EXPECT_TRUE(required.count(name) || name == "report.html") << "unexpected file left in the run folder: " << name;
    if (entry.path().extension() == ".json") {
      EXPECT_NO_THROW(nlohmann::json::parse(read_text(entry.path().string()))) << name;
    }
    if (name == "report.html") EXPECT_THAT(read_text(entry.path().string()), HasSubstr("</html>"));
  }
  for (const auto& name : required) EXPECT_TRUE(found.count(name)) << name << " missing";
  const auto config = nlohmann::json::parse(read_text(run + "/config.json"));
  EXPECT_EQ(config.at("epochs").get<int>(), kEpochs);

  // Both checkpoints load; checkpoint.pt is the last epoch, best.pt the epoch with the best test accuracy.
  const auto eval = [&](const std::string& path) {
    return run_command(std::string(LENET5_BINARY) + " eval --checkpoint " + path + " --data " +
                       lenet5::testing::mnist_dir());
  };
  const auto last = eval(checkpoint);
  EXPECT_EQ(last.exit_code, 0) << last.output;
  EXPECT_THAT(last.output, HasSubstr(checkpoint + ": modern LeNet-5, mnist test split, epoch " + std::to_string(kEpochs)));
  int best_epoch = 0;
  double best_accuracy = -1;
  std::ifstream again(run + "/metrics.jsonl");
  while (std::getline(again, line)) {
    const auto parsed = nlohmann::json::parse(line);
    if (parsed.at("test_accuracy").get<double>() > best_accuracy) {
      best_accuracy = parsed.at("test_accuracy").get<double>();
      best_epoch = parsed.at("epoch").get<int>();
    }
  }
  const auto best = eval(run + "/best.pt");
  EXPECT_EQ(best.exit_code, 0) << best.output;
  EXPECT_THAT(best.output, HasSubstr("/best.pt: modern LeNet-5, mnist test split, epoch " + std::to_string(best_epoch) + "\n"));
}

}  // namespace
