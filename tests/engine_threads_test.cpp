// The machine side of training: the thread setting and stop signals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <signal.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "lenet5/engine/stop_signals.h"
#include "lenet5/engine/threads.h"

namespace {

using ::testing::StartsWith;

TEST(EngineThreads, OneSettingSizesThePoolsAndWarnsAboveTheCores) {
  std::FILE* warnings = std::tmpfile();
  ASSERT_NE(warnings, nullptr);
  EXPECT_EQ(lenet5::engine::set_cpu_threads(1, warnings), 1);
  EXPECT_EQ(torch::get_num_threads(), 1);
  EXPECT_EQ(std::ftell(warnings), 0) << "no warning within the cores";
  const int cores = lenet5::engine::available_cores();
  EXPECT_EQ(lenet5::engine::set_cpu_threads(0, warnings), cores);
  EXPECT_EQ(lenet5::engine::set_cpu_threads(cores + 1, warnings), cores + 1);
  std::rewind(warnings);
  char buffer[512] = {0};
  std::fgets(buffer, sizeof buffer, warnings);
  EXPECT_THAT(buffer, StartsWith("lenet5: warning: --threads " + std::to_string(cores + 1) + " exceeds the " +
                                 std::to_string(cores) + " core"));
  std::fclose(warnings);
  for (int bad : {-1, lenet5::engine::kMaxThreads + 1}) {
    try {
      lenet5::engine::set_cpu_threads(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), StartsWith("--threads: "));
    }
  }
  lenet5::engine::set_cpu_threads(1);
}

TEST(EngineStopSignals, FirstSignalOnlyRaisesTheFlag) {
  std::signal(SIGINT, SIG_DFL);  // whatever the test runner left (a background job ignores SIGINT)
  std::signal(SIGTERM, SIG_DFL);
  for (int signal_number : {SIGINT, SIGTERM}) {
    lenet5::engine::StopOnSignals stop;
    EXPECT_FALSE(stop.flag().load());
    ASSERT_EQ(::raise(signal_number), 0);  // the process survives: the handler only sets the flag
    EXPECT_TRUE(stop.flag().load());
    EXPECT_EQ(stop.signal_number(), signal_number);
  }
  // Once destroyed, the previous handlers are back.
  struct sigaction current {};
  sigaction(SIGINT, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

}  // namespace
