// native::detail::Workers: a job runs on as many threads as asked, each call returns after every thread's
// part, and callers never wait for each other (a second caller, or a forked child, runs its job alone).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "workers.h"  // native/src

namespace {

using lenet5::native::detail::Workers;

std::set<std::thread::id> threads_of(Workers& workers, int threads) {
  std::mutex mutex;
  std::set<std::thread::id> seen;
  workers.run(threads, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // long enough that no thread runs two parts
    std::lock_guard<std::mutex> lock(mutex);
    seen.insert(std::this_thread::get_id());
  });
  return seen;
}

TEST(Workers, RunsAJobOnAsManyThreadsAsAskedTheCallerIncluded) {
  Workers workers;
  for (int threads : {1, 3, 2, 3}) {
    const auto seen = threads_of(workers, threads);
    EXPECT_EQ(seen.size(), static_cast<size_t>(threads));
    EXPECT_EQ(seen.count(std::this_thread::get_id()), 1u);
  }
}

TEST(Workers, ReturnsOnlyWhenEveryPartHasReturned) {
  Workers workers;
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> finished{0};
    workers.run(2, [&] {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      ++finished;
    });
    ASSERT_EQ(finished.load(), 2) << "round " << round;
  }
}

TEST(Workers, ASecondCallerRunsItsJobAloneInsteadOfWaiting) {
  Workers workers;
  std::atomic<bool> release{false}, second_done{false};
  std::atomic<int> first_parts{0};
  std::thread first([&] {
    workers.run(2, [&] {
      ++first_parts;
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  });
  while (first_parts.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::set<std::thread::id> seen;
  workers.run(2, [&] { seen.insert(std::this_thread::get_id()); });  // returns while the first job still runs
  second_done = true;
  release = true;
  first.join();
  EXPECT_TRUE(second_done.load());
  EXPECT_EQ(seen, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(Workers, AForkedChildRunsItsJobAloneRatherThanWaitingForItsParentsWorkers) {
  Workers workers;
  ASSERT_EQ(threads_of(workers, 2).size(), 2u);  // the parent's worker exists
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int parts = 0;
    workers.run(2, [&] { ++parts; });
    _exit(parts == 1 ? 0 : 1);
  }
  int status = 0;
  bool ended = false;
  for (int waited = 0; waited < 5000 && !ended; ++waited) {
    ended = waitpid(child, &status, WNOHANG) == child;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!ended) kill(child, SIGKILL), waitpid(child, &status, 0);
  EXPECT_TRUE(ended) << "the child hung: it waited for workers it does not have";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child ran its job other than once";
}

}  // namespace
