// Binding local ranks to their share of the cores (lenet5 train --cpu-bind cores). Torch-free.
#include <gtest/gtest.h>
#include <sched.h>

#include <thread>
#include <vector>

#include "lenet5/distributed/cpu_binding.h"

namespace {

namespace distributed = lenet5::distributed;

std::vector<int> cpus_of_this_thread() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

distributed::LaunchEnvironment local_rank(int rank, int ranks) {
  distributed::LaunchEnvironment env;
  env.rank = env.local_rank = rank;
  env.world_size = env.local_world_size = ranks;
  return env;
}

TEST(CpuBinding, EachLocalRankGetsAnEqualContiguousShare) {
  const std::vector<int> cpus = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(distributed::cpu_share(cpus, 0, 1), cpus);
  EXPECT_EQ(distributed::cpu_share(cpus, 0, 2), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(distributed::cpu_share(cpus, 1, 2), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(distributed::cpu_share(cpus, 2, 3), (std::vector<int>{4, 5}));  // CPUs 6 and 7 left over
  EXPECT_EQ(distributed::cpu_share(cpus, 7, 8), (std::vector<int>{7}));
  EXPECT_EQ(distributed::cpu_share({2, 5, 9}, 1, 3), (std::vector<int>{5}));  // the CPUs this process may use
}

TEST(CpuBinding, FewerCpusThanRanksBindsNoRank) {
  EXPECT_TRUE(distributed::cpu_share({0, 1}, 0, 3).empty());
  EXPECT_TRUE(distributed::cpu_share({0, 1}, 2, 3).empty());
  EXPECT_THROW(distributed::cpu_share({0, 1}, 2, 2), std::invalid_argument);
  EXPECT_THROW(distributed::cpu_share({0, 1}, 0, 0), std::invalid_argument);
}

// Binding applies to the calling thread and the threads it starts, so each case runs in a thread of its own.
TEST(CpuBinding, BindsTheCallingThreadAndTheThreadsItStarts) {
  const auto all = cpus_of_this_thread();
  const int ranks = static_cast<int>(all.size());
  for (int rank = 0; rank < ranks; ++rank) {
    std::thread([&] {
      const auto bound = distributed::bind_to_cpu_share(local_rank(rank, ranks));
      EXPECT_EQ(bound, (std::vector<int>{all[static_cast<size_t>(rank)]}));
      EXPECT_EQ(cpus_of_this_thread(), bound);
      std::vector<int> child;
      std::thread([&] { child = cpus_of_this_thread(); }).join();
      EXPECT_EQ(child, bound);
    }).join();
  }
  std::thread([&] {
    EXPECT_TRUE(distributed::bind_to_cpu_share(local_rank(0, ranks + 1)).empty());
    EXPECT_EQ(cpus_of_this_thread(), all);  // too few CPUs: left as it was
  }).join();
  EXPECT_EQ(cpus_of_this_thread(), all);
}

TEST(CpuBinding, NamesAreTheFlagsValues) {
  ASSERT_EQ(distributed::cpu_binding_names().size(), 2U);
  EXPECT_EQ(distributed::cpu_binding_names()[0].first, "cores");
  EXPECT_EQ(distributed::cpu_binding_names()[1].first, "none");
}

}  // namespace
