// The machine side of training: the thread setting and stop signals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <dlfcn.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "lenet5/engine/stop_signals.h"
#include "lenet5/engine/threads.h"

namespace {

using ::testing::StartsWith;

// Torch's matrix products go to the system BLAS. Training in several threads of one process (the distributed
// tests run each rank as a thread) needs a BLAS that is safe to call from two threads at once: Debian's
// libopenblas0-serial is not (about 3% of concurrent sgemm results were wrong, and torch's thread-local state got
// overwritten), which is why scripts/setup.sh installs the OpenMP flavour.
TEST(EngineThreads, MatrixProductsFromTwoThreadsAtOnceAreExact) {
  lenet5::engine::set_cpu_threads(1);
  torch::manual_seed(0);
  // The products of a fully connected layer's forward and backward passes at LeNet-5's sizes.
  const auto x = torch::randn({64, 400});
  const auto w = torch::randn({120, 400});
  const auto g = torch::randn({64, 120});
  const auto products = [&] { return std::vector<torch::Tensor>{x.mm(w.t()), g.mm(w), g.t().mm(x)}; };
  const auto expected = products();
  std::vector<int> wrong(2, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&, t] {
      lenet5::engine::set_cpu_threads(1);  // as each rank does
      for (int i = 0; i < 1500; ++i) {
        const auto got = products();
        for (size_t p = 0; p < got.size(); ++p) wrong[t] += torch::equal(got[p], expected[p]) ? 0 : 1;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong[0] + wrong[1], 0) << "the BLAS behind torch::mm is not safe to call from two threads at once "
                                       "(Debian: install libopenblas0-openmp or libopenblas0-pthread)";
}

// The race above shows only when both threads are inside sgemm at once; this names the cause every time.
TEST(EngineThreads, TheBlasIsNotTheSerialOpenBlas) {
  using Parallel = int (*)();
  const auto parallel = reinterpret_cast<Parallel>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  if (parallel == nullptr) GTEST_SKIP() << "the BLAS is not OpenBLAS";
  EXPECT_NE(parallel(), 0) << "torch runs on Debian's libopenblas0-serial (libblas.so.3 alternative), which is not "
                              "safe to call from two threads at once; install libopenblas0-openmp";
}

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
