// Data-parallel training in one test process: each rank a thread with its own ProcessGroupGloo over a real
// TCPStore on localhost. Ranks must hold the same weights and optimiser state bit for bit after every epoch,
// one rank must equal training alone, and two ranks must train as well as one process at the same global batch.
// Ranks as threads need a BLAS that is safe to call from two threads at once (engine_threads_test checks it).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <time.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "lenet5/distributed/environment.h"
#include "lenet5/distributed/launcher.h"
#include "lenet5/distributed/process_group.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/engine/evaluate.h"
#include "lenet5/engine/sharding.h"
#include "lenet5/engine/trainer.h"
#include "test_files.h"

namespace {

using lenet5::distributed::LaunchEnvironment;
using lenet5::testing::TempDir;
namespace engine = lenet5::engine;
namespace distributed = lenet5::distributed;

engine::TrainOptions small_run(const std::string& out) {
  engine::TrainOptions options;
  options.data_dir = lenet5::testing::mnist_dir();
  options.train_limit = 1000;
  options.test_limit = 500;
  options.epochs = 2;
  options.batch_size = 32;
  options.out_dir = out;
  return options;
}

// torch::optim's key of a parameter's state: its TensorImpl as text (LibTorch 1.x) or as a pointer (2.x).
template <typename Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << p.unsafeGetTensorImpl();
    return text.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

// Every parameter and AdamW moment, in parameter order, after each epoch.
class WeightsRecorder : public engine::TrainObserver {
 public:
  void on_epoch_trained(int64_t epoch, const lenet5::model::LeNet5& net,
                        const torch::optim::Optimizer& optimizer) override {
    using Key = std::decay_t<decltype(optimizer.state())>::key_type;
    std::vector<torch::Tensor> tensors;
    for (const auto& p : net->parameters()) {
      tensors.push_back(p.detach().clone());
      const auto& state = static_cast<const torch::optim::AdamWParamState&>(*optimizer.state().at(state_key<Key>(p)));
      tensors.push_back(state.exp_avg().clone());
      tensors.push_back(state.exp_avg_sq().clone());
      steps.push_back(state.step());
    }
    by_epoch[epoch] = tensors;
  }
  std::map<int64_t, std::vector<torch::Tensor>> by_epoch;
  std::vector<int64_t> steps;
};

LaunchEnvironment rank_environment(int rank, int world_size, int port) {
  LaunchEnvironment env;
  env.rank = rank;
  env.world_size = world_size;
  env.local_rank = rank;
  env.local_world_size = world_size;
  env.master_port = static_cast<uint16_t>(port);
  env.run_id = "test";
  return env;
}

// Runs body(rank, group) on `world_size` threads, one rank each, joined with `options`; returns each rank's error.
template <typename Body>
std::vector<std::string> run_ranks(int world_size, const distributed::GroupOptions& options, Body body) {
  const int port = distributed::free_local_port();
  std::vector<std::string> errors(static_cast<size_t>(world_size));
  std::vector<std::thread> ranks;
  for (int r = 0; r < world_size; ++r) {
    ranks.emplace_back([&, r] {
      try {
        auto group = distributed::join_process_group(rank_environment(r, world_size, port), options);
        body(r, *group);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  }
  for (auto& t : ranks) t.join();
  return errors;
}

// Trains `options` on `world_size` threads, one rank each; returns each rank's recorder.
std::vector<WeightsRecorder> train_ranks(const engine::TrainOptions& options, int world_size) {
  std::vector<WeightsRecorder> recorders(static_cast<size_t>(world_size));
  const auto errors = run_ranks(world_size, {}, [&](int rank, engine::Collective& group) {
    engine::TrainOptions mine = options;
    mine.collective = &group;
    engine::train(mine, &recorders[static_cast<size_t>(rank)]);
  });
  for (int r = 0; r < world_size; ++r) EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
  return recorders;
}

std::vector<nlohmann::json> metrics_of(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Every rank of these tests joins over Gloo (CPU tensors); a build without it skips them.
#define LENET5_REQUIRE_GLOO() \
  if (!distributed::has_gloo()) GTEST_SKIP() << "this lenet5 has no c10d Gloo backend"

TEST(DistributedGroup, TwoRanksHoldTheSameWeightsAndOptimizerStateBitForBit) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  TempDir dir;
  auto options = small_run(dir.file("run"));
  options.augment = true;  // each rank distorts its own images: the all-reduce still makes the weights agree
  options.all_reduce_bucket_bytes = 16 * 1024;  // several all-reduces per step, overlapping backward
  const auto ranks = train_ranks(options, 2);
  ASSERT_EQ(ranks[0].by_epoch.size(), 2U);
  for (const auto& [epoch, tensors] : ranks[0].by_epoch) {
    const auto& other = ranks[1].by_epoch.at(epoch);
    ASSERT_EQ(tensors.size(), other.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      EXPECT_TRUE(torch::equal(tensors[i], other[i])) << "epoch " << epoch << ", tensor " << i;
    }
  }
  EXPECT_EQ(ranks[0].steps, ranks[1].steps);
  // 1000 images, 32 per rank: 16 steps per epoch of 64 (the last one 40) over the two ranks.
  EXPECT_EQ(ranks[0].steps.back(), 32);
  const auto metrics = metrics_of(dir.file("run"));  // rank 0 alone wrote the run folder
  ASSERT_EQ(metrics.size(), 2U);
  std::ifstream config_file(dir.file("run/config.json"));
  EXPECT_EQ(nlohmann::json::parse(config_file).at("world_size"), 2);
}

TEST(DistributedGroup, OneRankEqualsTrainingAlone) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  TempDir dir;
  auto options = small_run(dir.file("alone"));
  options.epochs = 1;
  WeightsRecorder alone;
  engine::train(options, &alone);
  options.out_dir = dir.file("group");
  const auto group = train_ranks(options, 1);
  const auto& a = alone.by_epoch.at(1);
  const auto& b = group[0].by_epoch.at(1);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  EXPECT_EQ(metrics_of(dir.file("alone"))[0].at("test_accuracy"), metrics_of(dir.file("group"))[0].at("test_accuracy"));
}

TEST(DistributedGroup, TwoRanksTrainLikeOneProcessAtTheSameGlobalBatch) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  TempDir dir;
  auto options = small_run(dir.file("two"));
  options.train_limit = 4000;
  options.test_limit = 1000;
  options.epochs = 1;
  const auto two = train_ranks(options, 2);
  // The same global batch in one process: 64 images, and the rate two ranks use (AdamW: x sqrt(2)).
  options.out_dir = dir.file("one");
  options.batch_size = 64;
  options.lr = engine::recommended_learning_rate(options.optimizer, options.variant) * std::sqrt(2.0);
  WeightsRecorder one;
  engine::train(options, &one);
  const double a = metrics_of(dir.file("two"))[0].at("test_accuracy");
  const double b = metrics_of(dir.file("one"))[0].at("test_accuracy");
  // The same mathematics with the sums in another order: weights and moments within float rounding grown over 63
  // AdamW steps (measured: at most 2e-4 of a tensor's largest value), the same accuracy within 5 images.
  EXPECT_NEAR(a, b, 0.005);
  const auto& alone = one.by_epoch.at(1);
  const auto& rank0 = two[0].by_epoch.at(1);
  ASSERT_EQ(alone.size(), rank0.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    const double largest = alone[i].abs().max().item<double>();
    EXPECT_LE((alone[i] - rank0[i]).abs().max().item<double>(), 2e-3 * largest) << "tensor " << i;
  }
  EXPECT_EQ(metrics_of(dir.file("two"))[0].at("lr"), metrics_of(dir.file("one"))[0].at("lr"));
}

TEST(DistributedGroup, ResumesWithAnotherWorldSize) {
  LENET5_REQUIRE_GLOO();
  LENET5_REQUIRE_MNIST();
  TempDir dir;
  auto options = small_run(dir.file("run"));
  options.stop_after_epochs = 1;
  train_ranks(options, 2);
  ASSERT_EQ(metrics_of(dir.file("run")).size(), 1U);
  options.stop_after_epochs = 0;
  options.resume = true;
  train_ranks(options, 3);
  const auto metrics = metrics_of(dir.file("run"));
  ASSERT_EQ(metrics.size(), 2U);
  EXPECT_EQ(metrics[1].at("epoch"), 2);
  std::ifstream config_file(dir.file("run/config.json"));
  const auto config = nlohmann::json::parse(config_file);
  EXPECT_EQ(config.at("world_size"), 2);
  EXPECT_EQ(config.at("resumes").at(0).at("world_size"), 3);
}

TEST(DistributedGroup, EvaluationIsShardedAndEveryRankGetsTheWholeSet) {
  LENET5_REQUIRE_GLOO();
  torch::manual_seed(5);
  const int64_t n = 1001;  // not a multiple of the world size
  const lenet5::data::MnistDataset data(torch::rand({n, 1, 28, 28}), torch::randint(0, 10, {n}));
  torch::manual_seed(6);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  net->eval();
  std::vector<int64_t> scored(2, 0);
  const auto scorer_counting = [&](int64_t* count) {
    return [&net, count](const torch::Tensor& x) {
      *count += x.size(0);
      return net->forward(x);
    };
  };
  engine::EvaluateOptions options;
  options.batch_size = 100;
  options.worst_mistakes = 5;
  int64_t alone_count = 0;
  const auto alone = engine::evaluate(scorer_counting(&alone_count), data, lenet5::model::Variant::kModern, options);

  const int port = distributed::free_local_port();
  std::vector<engine::Evaluation> results(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      auto group = distributed::join_process_group(rank_environment(r, 2, port), {});
      auto mine = options;
      mine.group = group.get();
      results[r] = engine::evaluate(scorer_counting(&scored[r]), data, lenet5::model::Variant::kModern, mine);
    });
  }
  for (auto& t : ranks) t.join();
  EXPECT_EQ(scored[0] - options.worst_mistakes, 500);  // its share, then the mistakes' images again
  EXPECT_EQ(scored[1] - options.worst_mistakes, 501);
  for (const auto& r : results) {
    EXPECT_EQ(r.n, n);
    EXPECT_EQ(r.accuracy, alone.accuracy);
    EXPECT_EQ(r.confusion, alone.confusion);
    EXPECT_NEAR(r.loss, alone.loss, 1e-9);
    ASSERT_EQ(r.worst_mistakes.size(), alone.worst_mistakes.size());
    for (size_t i = 0; i < r.worst_mistakes.size(); ++i) {
      EXPECT_EQ(r.worst_mistakes[i].index, alone.worst_mistakes[i].index);
    }
  }
}

torch::Tensor values_of_rank(int rank, int64_t length) {
  auto generator = at::detail::createCPUGenerator(static_cast<uint64_t>(1000 * rank + length));
  return torch::randn({length}, generator);
}

// Float all-reduces take Gloo's synchronous path, in segments: any length, any world size (halving-doubling
// also for 3), every rank the same sum bit for bit, whether the ranks spin or sleep while they wait.
TEST(DistributedGroup, FloatSumsAgreeBitForBitAtAnyLengthAndWorldSize) {
  LENET5_REQUIRE_GLOO();
  const std::vector<int64_t> lengths = {1, 3, 32768, 32769, 61706, 200001};
  for (const int world_size : {2, 3}) {
    for (const bool busy_poll : {true, false}) {
      SCOPED_TRACE(std::to_string(world_size) + " ranks, busy_poll " + std::to_string(busy_poll));
      distributed::GroupOptions options;
      options.busy_poll = busy_poll;
      std::vector<std::vector<torch::Tensor>> sums(static_cast<size_t>(world_size));
      const auto errors = run_ranks(world_size, options, [&](int rank, engine::Collective& group) {
        for (const int64_t length : lengths) {
          auto mine = values_of_rank(rank, length);
          group.all_reduce_sum(mine);
          sums[static_cast<size_t>(rank)].push_back(mine);
        }
      });
      for (const auto& error : errors) ASSERT_EQ(error, "");
      for (size_t i = 0; i < lengths.size(); ++i) {
        auto expected = torch::zeros({lengths[i]});
        for (int r = 0; r < world_size; ++r) expected += values_of_rank(r, lengths[i]);
        EXPECT_TRUE(torch::allclose(sums[0][i], expected, 1e-6, 1e-6)) << "length " << lengths[i];
        for (int r = 1; r < world_size; ++r) {
          EXPECT_TRUE(torch::equal(sums[static_cast<size_t>(r)][i], sums[0][i])) << "length " << lengths[i];
        }
      }
    }
  }
}

// The guard of the segments: in Gloo's synchronous mode both ranks of a pair write before either reads, and a
// write larger than the sockets hold stalls until the timeout (here: 64 MB in one piece did, at 5 s).
TEST(DistributedGroup, ALongTensorGoesInPiecesTheSocketsHold) {
  LENET5_REQUIRE_GLOO();
  if (!distributed::has_sync_all_reduce()) GTEST_SKIP() << "this build all-reduces through ProcessGroupGloo only";
  distributed::GroupOptions options;
  options.busy_poll = true;
  options.timeout = std::chrono::seconds(20);
  const int64_t length = int64_t{1} << 24;
  std::vector<torch::Tensor> sums(2);
  const auto errors = run_ranks(2, options, [&](int rank, engine::Collective& group) {
    auto mine = torch::full({length}, static_cast<float>(rank + 1));
    group.all_reduce_sum(mine);
    sums[static_cast<size_t>(rank)] = mine;
  });
  ASSERT_EQ(errors, std::vector<std::string>(2, ""));
  EXPECT_TRUE(torch::equal(sums[0], torch::full({length}, 3.0F)));
  EXPECT_TRUE(torch::equal(sums[1], sums[0]));
}

TEST(DistributedGroup, ALostRankEndsTheOthersWithALineNamingIt) {
  LENET5_REQUIRE_GLOO();
  for (const bool busy_poll : {false, true}) {
    SCOPED_TRACE("busy_poll " + std::to_string(busy_poll));
    distributed::GroupOptions options;
    options.busy_poll = busy_poll;
    const int port = distributed::free_local_port();
    std::string error;
    std::thread survivor([&] {
      try {
        auto group = distributed::join_process_group(rank_environment(0, 2, port), options);
        auto t = torch::ones({4});
        group->all_reduce_sum(t);  // the other rank takes part once, then is gone
        group->all_reduce_sum(t);
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    {
      auto group = distributed::join_process_group(rank_environment(1, 2, port), options);
      auto t = torch::ones({4});
      group->all_reduce_sum(t);
      EXPECT_TRUE(torch::equal(t, torch::full({4}, 2.0F)));
    }  // destroyed: its connections close
    survivor.join();
    EXPECT_NE(error.find("rank 0: "), std::string::npos) << error;
    EXPECT_NE(error.find("all-reduce"), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

// A rank that stops answering (hung, or stopped) ends a spinning peer after the timeout, with one line.
TEST(DistributedGroup, ASilentRankEndsASpinningPeerAfterTheTimeout) {
  LENET5_REQUIRE_GLOO();
  distributed::GroupOptions options;
  options.busy_poll = true;
  options.timeout = std::chrono::seconds(2);  // also the limit for joining: room for a busy machine
  const auto errors = run_ranks(2, options, [](int rank, engine::Collective& group) {
    auto t = torch::ones({4});
    group.all_reduce_sum(t);
    if (rank == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5000));
      return;
    }
    group.all_reduce_sum(t);
  });
  EXPECT_NE(errors[0].find("rank 0: no answer from the other ranks within 2 s during an all-reduce"), std::string::npos)
      << errors[0] << " / rank 1: " << errors[1];
  EXPECT_EQ(errors[0].find('\n'), std::string::npos) << errors[0];
}

// CPU seconds that rank 0 spends in an all-reduce of `dtype` values that rank 1 joins 600 ms late.
double cpu_seconds_waiting_600_ms(torch::ScalarType dtype, bool busy_poll) {
  distributed::GroupOptions options;
  options.busy_poll = busy_poll;
  double waited = -1;
  const auto errors = run_ranks(2, options, [&](int rank, engine::Collective& group) {
    auto sum = torch::ones({1000}, torch::TensorOptions().dtype(dtype));
    group.all_reduce_sum(sum);  // both have joined the collective once
    if (rank == 1) std::this_thread::sleep_for(std::chrono::milliseconds(600));
    timespec start{}, end{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    group.all_reduce_sum(sum);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    EXPECT_TRUE(torch::equal(sum, torch::full({1000}, 4, sum.options())));
    if (rank == 0) {
      waited = static_cast<double>(end.tv_sec - start.tv_sec) + 1e-9 * static_cast<double>(end.tv_nsec - start.tv_nsec);
    }
  });
  EXPECT_EQ(errors, std::vector<std::string>(2, ""));
  return waited;
}

// A rank without a core of its own must not spend a slow peer's 600 ms spinning: float all-reduces sleep in
// recv, the others (ProcessGroupGloo's) poll for at most 20 ms, then block. With a core of its own, it spins.
TEST(DistributedGroup, AWaitForASlowRankSpinsOnlyWhenTheRankHasItsOwnCore) {
  LENET5_REQUIRE_GLOO();
  EXPECT_LT(cpu_seconds_waiting_600_ms(torch::kFloat32, false), 0.2) << "spun in recv";
  EXPECT_LT(cpu_seconds_waiting_600_ms(torch::kFloat64, false), 0.2) << "polled ProcessGroupGloo's work";
  if (distributed::has_sync_all_reduce()) {
    EXPECT_GT(cpu_seconds_waiting_600_ms(torch::kFloat32, true), 0.3) << "busy_poll did not spin";
  }
}

TEST(DistributedGroup, RanksThatDoNotAllJoinFailWithinTheTimeout) {
  LENET5_REQUIRE_GLOO();
  distributed::GroupOptions options;
  options.timeout = std::chrono::milliseconds(1500);
  try {
    distributed::join_process_group(rank_environment(0, 2, distributed::free_local_port()), options);
    FAIL() << "joined a group of 2 alone";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "rank 0: only 1 of WORLD_SIZE=2 ranks joined within 1500 ms; start every rank, with the same "
                 "WORLD_SIZE, MASTER_ADDR and MASTER_PORT");
  }
}

TEST(DistributedGroup, DisagreeingWorldSizesAreNamed) {
  LENET5_REQUIRE_GLOO();
  const int port = distributed::free_local_port();
  std::string error;
  distributed::GroupOptions options;
  options.timeout = std::chrono::seconds(2);
  std::thread rank0([&] {
    try {
      distributed::join_process_group(rank_environment(0, 2, port), options);
    } catch (const std::exception&) {
    }
  });
  try {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // rank 0's store is up
    distributed::join_process_group(rank_environment(1, 3, port), options);
  } catch (const std::exception& e) {
    error = e.what();
  }
  rank0.join();
  EXPECT_EQ(error,
            "rank 1: WORLD_SIZE=3, but rank 0 has WORLD_SIZE=2; every rank must be started with the same WORLD_SIZE");
}

TEST(DistributedGroup, APortInUseIsNamed) {
  LENET5_REQUIRE_GLOO();
  const int port = distributed::free_local_port();
  auto first = distributed::join_process_group(rank_environment(0, 1, port), {});
  try {
    distributed::join_process_group(rank_environment(0, 1, port), {});
    FAIL() << "two stores on one port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(
        std::string(e.what()).find("rank 0: cannot host the rendezvous store at 127.0.0.1:" + std::to_string(port)),
        std::string::npos)
        << e.what();
  }
}

TEST(DistributedGroup, AnUnreachableMasterIsNamed) {
  LENET5_REQUIRE_GLOO();
  distributed::GroupOptions options;
  options.timeout = std::chrono::milliseconds(1000);
  const int port = distributed::free_local_port();
  try {
    distributed::join_process_group(rank_environment(1, 2, port), options);
    FAIL() << "joined without a master";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1: cannot reach rank 0's store at 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << e.what();
  }
}

// A backend this build lacks is one line naming the flag, before anything listens or connects.
TEST(DistributedGroup, AMissingBackendIsNamedBeforeJoining) {
  for (auto backend : {distributed::Backend::kNccl, distributed::Backend::kGloo}) {
    const bool built = backend == distributed::Backend::kNccl ? distributed::has_nccl() : distributed::has_gloo();
    if (built) continue;
    distributed::GroupOptions options;
    options.backend = backend;
    options.timeout = std::chrono::milliseconds(200);
    try {
      distributed::join_process_group(rank_environment(1, 2, distributed::free_local_port()), options);
      FAIL() << "joined with a backend this build lacks";
    } catch (const std::exception& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_NE(message.find(backend == distributed::Backend::kNccl ? "--dist-backend nccl: this lenet5 has no NCCL"
                                                                    : "built without c10d's Gloo backend"),
                std::string::npos)
          << message;
    }
  }
}

// The sampler: every image once per epoch, shards disjoint, as DistributedSampler deals them.
TEST(DistributedSharding, ShardsAreDisjointAndCoverTheEpoch) {
  for (int world : {1, 2, 3, 8}) {
    for (int64_t n : {1, 7, 64, 1000, 1001}) {
      for (int64_t batch : std::vector<int64_t>{1, 5, 32, int64_t{1} << 62}) {
        const int64_t global = engine::global_batch_of(n, batch, world);
        const int64_t steps = (n - 1) / global + 1;
        std::vector<int> seen(static_cast<size_t>(n), 0);
        for (int64_t step = 0; step < steps; ++step) {
          int64_t smallest = n, largest = 0;
          for (int rank = 0; rank < world; ++rank) {
            const auto shard = engine::step_shard(step, n, global, rank, world);
            for (int64_t i = shard.begin; i < shard.end; i += shard.stride) {
              ++seen[static_cast<size_t>(i)];
              EXPECT_EQ(i % world, (step * global + rank) % world);
            }
            smallest = std::min(smallest, shard.size());
            largest = std::max(largest, shard.size());
          }
          EXPECT_LE(largest - smallest, 1);
          EXPECT_LE(largest, batch);
        }
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)], 1) << n << " " << batch << " " << world;
      }
    }
  }
}

TEST(DistributedEnvironment, TorchrunVariablesAreReadAndChecked) {
  std::map<std::string, std::string> vars;
  auto get = [&](const char* name) -> const char* {
    auto found = vars.find(name);
    return found == vars.end() ? nullptr : found->second.c_str();
  };
  EXPECT_FALSE(distributed::read_launch_environment(get));
  vars = {{"RANK", "1"},
          {"WORLD_SIZE", "4"},
          {"LOCAL_RANK", "1"},
          {"LOCAL_WORLD_SIZE", "2"},
          {"MASTER_ADDR", "node0"},
          {"MASTER_PORT", "29500"},
          {"TORCHELASTIC_RESTART_COUNT", "1"},
          {"TORCHELASTIC_RUN_ID", "job"}};
  const auto env = distributed::read_launch_environment(get);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->local_world_size, 2);
  EXPECT_EQ(env->master_addr, "node0");
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_EQ(env->restart_count, 1);
  EXPECT_EQ(env->run_id, "job");
  auto error_with = [&](const std::string& name, const std::string& value) {
    auto saved = vars;
    if (value.empty()) {
      vars.erase(name);
    } else {
      vars[name] = value;
    }
    std::string message;
    try {
      distributed::read_launch_environment(get);
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    vars = saved;
    return message;
  };
  EXPECT_EQ(error_with("RANK", "4"), "RANK=4 is not below WORLD_SIZE=4: ranks are numbered 0 to WORLD_SIZE-1");
  EXPECT_EQ(error_with("WORLD_SIZE", "two"), "WORLD_SIZE='two' is not a whole number in [1, 1048576]");
  EXPECT_EQ(error_with("MASTER_PORT", "70000"), "MASTER_PORT='70000' is not a whole number in [1, 65535]");
  EXPECT_EQ(error_with("LOCAL_RANK", "2"), "LOCAL_RANK='2' is not a whole number in [0, 1]");
  EXPECT_NE(error_with("MASTER_ADDR", "").find("MASTER_ADDR is not set"), std::string::npos);
  EXPECT_NE(error_with("RANK", "").find("RANK is not set"), std::string::npos);
}

TEST(DistributedLauncher, DropsTheNprocFlagOnly) {
  const std::vector<std::string> args = {"lenet5", "train",     "--nproc", "2",      "--epochs",
                                         "1",      "--nproc=3", "--",      "--nproc"};
  EXPECT_EQ(distributed::without_flag(args, "--nproc"),
            (std::vector<std::string>{"lenet5", "train", "--epochs", "1", "--", "--nproc"}));
}

// Every rank runs the callback in a forked copy of the launcher with its own variables; /bin/false is never run.
int launch_forked_ranks() {
  if (distributed::thread_count() != 1) return 10;
  const auto outcome = distributed::launch_local_ranks("/bin/false", {"false"}, 3, 10, [] {
    const char* rank = std::getenv("RANK");
    const char* size = std::getenv("WORLD_SIZE");
    if (rank == nullptr || size == nullptr || std::string(size) != "3" || std::atoi(rank) >= 3) return 11;
    std::ifstream comm("/proc/self/comm");
    std::string name;
    std::getline(comm, name);
    return name == std::string("lenet5-rank") + rank ? 0 : 14;
  });
  return outcome.failure.empty() ? 0 : 12;
}

TEST(DistributedLauncher, ForksRanksThatRunTheCommandInProcess) {
  // A death test's child is a fork of this process: only one thread, as in `lenet5 train --nproc`.
  EXPECT_EXIT(std::exit(launch_forked_ranks()), ::testing::ExitedWithCode(0), "");
}

TEST(DistributedLauncher, ExecutesRanksWhenTheLauncherHasThreads) {
  std::promise<void> done;
  std::thread other([future = done.get_future()]() mutable { future.wait(); });
  ASSERT_GE(distributed::thread_count(), 2);
  const auto outcome =
      distributed::launch_local_ranks("/bin/sh", {"sh", "-c", "test \"$RANK\" -lt 2"}, 2, 10, [] { return 13; });
  done.set_value();
  other.join();
  EXPECT_EQ(outcome.failure, "");
}

}  // namespace
