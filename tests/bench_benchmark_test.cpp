// lenet5 bench's library: what its table says, and that one thread setting keeps every engine on one thread.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "lenet5/bench/benchmark.h"
#include "lenet5/engine/threads.h"
#include "lenet5/native/plan.h"

namespace {

using lenet5::bench::Mode;
using ::testing::HasSubstr;
using ::testing::Not;

size_t process_threads() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

lenet5::bench::BenchOptions quick(std::vector<Mode> modes, std::vector<int64_t> batch_sizes) {
  lenet5::bench::BenchOptions options;
  options.modes = std::move(modes);
  options.batch_sizes = std::move(batch_sizes);
  options.warmup = 1;
  options.iterations = 3;
  return options;
}

// The native plan (batches 1 and 64) and training, all with threads = 1: no pool may start a thread of its own
// (a pool sized to the cores spins against other load on a busy machine). LibTorch's autograd engine starts
// its device threads at the first backward (one per CUDA GPU, idle while training runs on CPU): started first.
TEST(BenchThreads, OneThreadRunsEveryEngineOnTheCallingThread) {
  torch::ones({1}, torch::requires_grad()).sum().backward();
  const size_t before = process_threads();
  lenet5::engine::set_cpu_threads(1);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  const auto report = lenet5::bench::run_benchmark(net, std::nullopt, quick({Mode::kOptimized, Mode::kTrain}, {1, 64}));
  ASSERT_EQ(report.results.size(), 4u);
  const std::string native_engine = "native-" + lenet5::native::isa_name(lenet5::native::best_isa());
  EXPECT_EQ(report.results[0].engine, native_engine);
  EXPECT_EQ(report.results[1].engine, native_engine);
  EXPECT_EQ(report.threads, 1);
  EXPECT_EQ(process_threads(), before);
}

// The native plan's threads serve one batch each and end with it.
TEST(BenchThreads, TwoThreadsSplitALargeBatchAndEndWithIt) {
  const size_t before = process_threads();
  lenet5::engine::set_cpu_threads(2);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  const auto report = lenet5::bench::run_benchmark(net, std::nullopt, quick({Mode::kOptimized}, {1024}));
  lenet5::engine::set_cpu_threads(1);
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.threads, 2);
  EXPECT_GT(report.results[0].images_per_second, 0);
  EXPECT_LE(process_threads(), before + 2);  // at most the intra-op pool's second thread remains
}

TEST(BenchReport, ReportsTheMeasuredPeakAndTheFractionOfItReached) {
  lenet5::engine::set_cpu_threads(1);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  const auto report = lenet5::bench::run_benchmark(net, std::nullopt, quick({Mode::kOptimized}, {8}));
  EXPECT_GT(report.fma_peak_gflops, 0);
  const std::string text = lenet5::bench::format_report(report);
  EXPECT_THAT(text, HasSubstr("FMA peak of one core"));
  EXPECT_THAT(text, HasSubstr("% peak"));
  EXPECT_THAT(lenet5::bench::report_json(report), HasSubstr("\"fma_peak_gflops\":"));
}

TEST(BenchReport, SaysWhichStatisticImagesPerSecondIsAndTrainsOnlyWhenAsked) {
  lenet5::engine::set_cpu_threads(1);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  auto report = lenet5::bench::run_benchmark(net, std::nullopt, quick({Mode::kEager}, {1}));
  std::string text = lenet5::bench::format_report(report);
  EXPECT_THAT(text, HasSubstr("images/s*"));
  EXPECT_THAT(text, HasSubstr("* from the mean latency"));
  EXPECT_THAT(text, Not(HasSubstr("train:")));
  EXPECT_THAT(text, Not(HasSubstr("busy thread")));

  auto options = quick({Mode::kEager, Mode::kTrain}, {1});
  options.neighbour_load = 1;
  report = lenet5::bench::run_benchmark(net, std::nullopt, options);
  text = lenet5::bench::format_report(report);
  EXPECT_THAT(text, HasSubstr("(train: forward + backward + AdamW step"));
  EXPECT_THAT(text, HasSubstr("measured next to 1 busy thread spinning on the CPU"));
  EXPECT_THAT(lenet5::bench::report_json(report), HasSubstr("\"neighbour_load\":1"));
}

}  // namespace
