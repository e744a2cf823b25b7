#include "lenet5/distributed/process_group.h"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lenet5/text/printable.h"

#ifdef LENET5_HAVE_C10D
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef LENET5_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LENET5_HAVE_SYNC_ALL_REDUCE
#include "sync_all_reduce.h"
#endif
#ifdef LENET5_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace lenet5::distributed {

bool has_gloo() {
#ifdef LENET5_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

bool has_nccl() {
#ifdef LENET5_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

bool has_sync_all_reduce() {
#ifdef LENET5_HAVE_SYNC_ALL_REDUCE
  return true;
#else
  return false;
#endif
}

Backend resolve_backend(Backend requested, bool on_cuda) {
  if (requested != Backend::kAuto) return requested;
  return on_cuda && has_nccl() ? Backend::kNccl : Backend::kGloo;
}

void require_backend(Backend backend, bool on_cuda) {
  if (backend == Backend::kNccl && !on_cuda) {
    throw std::invalid_argument("--dist-backend nccl: NCCL joins CUDA GPUs; on CPU use gloo (or --device cuda)");
  }
  if (backend == Backend::kNccl && !has_nccl()) {
    throw std::invalid_argument(
        "--dist-backend nccl: this lenet5 has no NCCL (a CPU LibTorch, or NCCL's nccl.h was not found at "
        "configure time); use gloo");
  }
  if (backend == Backend::kGloo && !has_gloo()) {
    throw std::runtime_error(
        "distributed training: this lenet5 was built without c10d's Gloo backend (its headers, libgloo-dev on "
        "Debian, were not found at configure time)" +
        std::string(has_nccl() ? "; use --dist-backend nccl on CUDA" : ""));
  }
}

#ifndef LENET5_HAVE_C10D

std::unique_ptr<engine::Collective> join_process_group(const LaunchEnvironment&, const GroupOptions& options) {
  require_backend(options.backend, true);
  throw std::runtime_error("distributed training: this lenet5 was built without c10d (LibTorch's distributed headers)");
}

#else

namespace {
using Clock = std::chrono::steady_clock;
using Milliseconds = std::chrono::milliseconds;

constexpr Milliseconds kPollBeforeBlocking{20};  // a step's wait is 1-2 ms; an epoch's end, tens

std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string text_of(const std::vector<uint8_t>& data) { return {data.begin(), data.end()}; }

std::string seconds_text(Milliseconds timeout) {
  const auto ms = timeout.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

// Where each rank runs, so that a survivor can say which rank was lost.
struct Peer {
  std::string host;
  long pid = 0;
};

// Whether process `pid` of this host has ended (gone, or a zombie not yet reaped by its launcher).
bool process_ended(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  const char state = line[close + 2];
  return state == 'Z' || state == 'X' || state == 'x';
}

class GroupCollective : public engine::Collective {
 public:
  GroupCollective(c10::intrusive_ptr<c10d::Store> store, const LaunchEnvironment& env, std::vector<Peer> peers,
                  Milliseconds timeout)
      : store_(std::move(store)), rank_(env.rank), size_(env.world_size), peers_(std::move(peers)), timeout_(timeout) {}
#ifdef LENET5_HAVE_GLOO
  void use_gloo(c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo) { gloo_ = std::move(gloo); }
#endif
#ifdef LENET5_HAVE_NCCL
  void use_nccl(c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl) { nccl_ = std::move(nccl); }
#endif
#ifdef LENET5_HAVE_SYNC_ALL_REDUCE
  void use_sync_all_reduce(std::unique_ptr<SyncAllReduce> sync) { sync_ = std::move(sync); }
#endif

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }

  Statistics statistics() const override { return statistics_; }

  void all_reduce_sum(torch::Tensor& tensor) override { start_all_reduce_sum(tensor)->wait(); }

  std::unique_ptr<Pending> start_all_reduce_sum(const torch::Tensor& tensor) override {
    statistics_.all_reduces += 1;
    statistics_.bytes += tensor.numel() * static_cast<int64_t>(tensor.element_size());
#ifdef LENET5_HAVE_SYNC_ALL_REDUCE
    if (sync_ && sync_->takes(tensor)) {  // done before it returns: nothing overlaps on a rank's own core anyway
      const auto start = Clock::now();
      try {
        sync_->sum(tensor);
      } catch (const std::exception& e) {
        throw std::runtime_error(lost_message("an all-reduce", e.what()));
      }
      statistics_.seconds += std::chrono::duration<double>(Clock::now() - start).count();
      return std::make_unique<Done>();
    }
#endif
    std::vector<at::Tensor> tensors{tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    auto work = start("an all-reduce",
                      [&] { return on_backend([&](auto& group) { return group.allreduce(tensors, options); }); });
    return std::make_unique<PendingWork>(*this, std::move(work));
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    std::vector<at::Tensor> tensors{tensor};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.rootTensor = 0;
    finish("a broadcast", start("a broadcast", [&] {
             return on_backend([&](auto& group) { return group.broadcast(tensors, options); });
           }));
  }

  std::string share_from_rank0(const std::string& text) override {
    const std::string key = "shared/" + std::to_string(shared_++);
    try {
      if (rank_ == 0) {
        store_->set(key, bytes(text));
        return text;
      }
      return text_of(store_->get(key));
    } catch (const std::exception& e) {
      throw std::runtime_error(lost_message("an exchange through the store", e.what()));
    }
  }

 private:
  // Runs `collective` on the backend's process group, NCCL's or Gloo's (join_process_group sets one; they share
  // no base class across LibTorch 1.x and 2.x).
  template <typename Collective>
  c10::intrusive_ptr<c10d::Work> on_backend(Collective collective) {
#ifdef LENET5_HAVE_NCCL
    if (nccl_) return collective(*nccl_);
#endif
#ifdef LENET5_HAVE_GLOO
    if (gloo_) return collective(*gloo_);
#endif
    throw std::logic_error("GroupCollective: no backend joined");
  }

  class Done : public Pending {
   public:
    void wait() override {}
  };

  class PendingWork : public Pending {
   public:
    PendingWork(GroupCollective& group, c10::intrusive_ptr<c10d::Work> work) : group_(group), work_(std::move(work)) {}
    void wait() override {
      const auto start = Clock::now();
      group_.finish("an all-reduce", work_);
      group_.statistics_.seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }

   private:
    GroupCollective& group_;
    c10::intrusive_ptr<c10d::Work> work_;
  };

  template <typename Launch>
  c10::intrusive_ptr<c10d::Work> start(const char* what, Launch launch) {
    try {
      return launch();
    } catch (const std::exception& e) {
      throw std::runtime_error(lost_message(what, e.what()));
    }
  }

  void finish(const char* what, const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      if (polls_before_blocking()) poll(*work);
      work->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(lost_message(what, e.what()));
    }
  }

  // A CPU rank that blocks lets its core go idle, and on a virtual machine an idle core can take a millisecond
  // to wake for the reply (loopback round trips here: 18 us while both cores are busy, 89 us median and 1.2 ms
  // p90 while they idle). So a Gloo rank polls, handing its core to Gloo's threads between polls, for up to
  // kPollBeforeBlocking, then blocks: a rank that waits longer (for a checkpoint, a slow peer) costs no core.
  bool polls_before_blocking() const {
#ifdef LENET5_HAVE_NCCL
    if (nccl_) return false;  // a CUDA stream's wait
#endif
    return true;
  }

  static void poll(c10d::Work& work) {
    const auto deadline = Clock::now() + kPollBeforeBlocking;
    while (!work.isCompleted() && Clock::now() < deadline) sched_yield();
  }

  // Names the lost rank when it ran on this host (its process has ended); else says what the backend said.
  std::string lost_message(const char* what, const std::string& error) const {
    const std::string self = "rank " + std::to_string(rank_) + ": ";
    const std::string here = host_name();
    for (int attempt = 0; attempt < 10; ++attempt) {  // the dying process may not have ended yet
      for (int r = 0; r < size_; ++r) {
        if (r == rank_ || peers_[r].host != here || !process_ended(peers_[r].pid)) continue;
        return self + "rank " + std::to_string(r) + " (pid " + std::to_string(peers_[r].pid) + ") was lost during " +
               what + "; stopping";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const std::string cause = text::first_line(error);
    if (cause.find("imed out") != std::string::npos || cause.find("imeout") != std::string::npos) {
      return self + "no answer from the other ranks within " + seconds_text(timeout_) + " during " + what +
             " (a rank hangs or was stopped): " + cause;
    }
    return self + "lost contact with another rank during " + what + ": " + cause;
  }

  c10::intrusive_ptr<c10d::Store> store_;
#ifdef LENET5_HAVE_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo_;
#endif
#ifdef LENET5_HAVE_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#endif
#ifdef LENET5_HAVE_SYNC_ALL_REDUCE
  std::unique_ptr<SyncAllReduce> sync_;  // CPU float all-reduces of a Gloo group of 2 or more
#endif
  int rank_, size_;
  std::vector<Peer> peers_;
  Milliseconds timeout_;
  int64_t shared_ = 0;
  Statistics statistics_;
};

// c10d logs every failed connection attempt and bind to stderr; while joining, its errors become lenet5's one
// line instead (the logs would add lines, and repeat while a rank waits for the master).
class QuietC10dLogs {
 public:
#ifdef C10_USE_GLOG
  QuietC10dLogs() : saved_(FLAGS_minloglevel) { FLAGS_minloglevel = google::GLOG_FATAL; }
  ~QuietC10dLogs() { FLAGS_minloglevel = saved_; }

 private:
  int saved_;
#endif
};

// Rank 0 hosts the store (unless torchrun's agent does); the others connect to it.
c10::intrusive_ptr<c10d::Store> connect_store(const LaunchEnvironment& env, Milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = env.master_port;
  options.isServer = env.rank == 0 && !env.agent_store;
  options.waitWorkers = false;  // joining is checked below, with messages that name what is missing
  options.timeout = timeout;
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    const std::string cause = text::first_line(e.what());
    if (options.isServer) {
      throw std::runtime_error("rank 0: cannot host the rendezvous store at " + where +
                               " (MASTER_ADDR:MASTER_PORT; is the port in use by another process?): " + cause);
    }
    throw std::runtime_error("rank " + std::to_string(env.rank) + ": cannot reach rank 0's store at " + where +
                             " (MASTER_ADDR:MASTER_PORT) within " + seconds_text(timeout) + ": " + cause);
  }
  // Each launch attempt of each run uses its own keys, so a restarted group never reads an earlier attempt's.
  const std::string prefix = "lenet5/" + env.run_id + "/attempt" + std::to_string(env.restart_count);
  return c10::make_intrusive<c10d::PrefixStore>(prefix, store);
}

int64_t whole(const std::vector<uint8_t>& data) { return std::stoll(text_of(data)); }

// Every rank agrees on WORLD_SIZE, holds a rank no other process holds, and has joined; returns where each runs.
std::vector<Peer> check_membership(c10d::Store& store, const LaunchEnvironment& env, Milliseconds timeout) {
  const std::string self = "rank " + std::to_string(env.rank) + ": ";
  if (store.add("rank/" + std::to_string(env.rank), 1) > 1) {
    throw std::runtime_error(self + "RANK=" + std::to_string(env.rank) +
                             " is already held by another process of this group (each rank starts once)");
  }
  if (env.rank == 0) store.set("world_size", bytes(std::to_string(env.world_size)));
  const int64_t group_size = whole(store.get("world_size"));
  if (group_size != env.world_size) {
    throw std::runtime_error(self + "WORLD_SIZE=" + std::to_string(env.world_size) + ", but rank 0 has WORLD_SIZE=" +
                             std::to_string(group_size) + "; every rank must be started with the same WORLD_SIZE");
  }
  store.set("peer/" + std::to_string(env.rank), bytes(host_name() + " " + std::to_string(getpid())));
  store.add("joined", 1);
  const auto deadline = Clock::now() + timeout;
  for (int64_t joined = store.add("joined", 0); joined < env.world_size; joined = store.add("joined", 0)) {
    if (Clock::now() > deadline) {
      throw std::runtime_error(self + "only " + std::to_string(joined) + " of WORLD_SIZE=" +
                               std::to_string(env.world_size) + " ranks joined within " + seconds_text(timeout) +
                               "; start every rank, with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<Peer> peers(static_cast<size_t>(env.world_size));
  for (int r = 0; r < env.world_size; ++r) {
    const std::string where = text_of(store.get("peer/" + std::to_string(r)));
    const auto space = where.rfind(' ');
    peers[r] = {where.substr(0, space), std::stol(where.substr(space + 1))};
  }
  return peers;
}

#ifdef LENET5_HAVE_GLOO
bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

std::shared_ptr< ::gloo::transport::Device> gloo_device(const LaunchEnvironment& env) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (is_loopback(env.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// Connects the ranks over Gloo (CPU tensors): ProcessGroupGloo, and for float all-reduces of two or more ranks
// the synchronous all-reduce where it builds.
void join_gloo(GroupCollective& collective, const c10::intrusive_ptr<c10d::Store>& store, const LaunchEnvironment& env,
               const GroupOptions& options) {
  const auto device = gloo_device(env);
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
  gloo_options->devices.push_back(device);
  gloo_options->threads = 1;  // one collective at a time
  collective.use_gloo(c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", store),
                                                                  env.rank, env.world_size, gloo_options));
#ifdef LENET5_HAVE_SYNC_ALL_REDUCE
  if (env.world_size > 1) {
    try {
      collective.use_sync_all_reduce(
          std::make_unique<SyncAllReduce>(store, env.rank, env.world_size, device, options.timeout, options.busy_poll));
    } catch (const std::exception& e) {
      throw std::runtime_error("rank " + std::to_string(env.rank) +
                               ": connecting the ranks for all-reduces failed: " + text::first_line(e.what()));
    }
  }
#endif
}
#endif  // LENET5_HAVE_GLOO

}  // namespace

std::unique_ptr<engine::Collective> join_process_group(const LaunchEnvironment& env, const GroupOptions& options) {
  require_backend(options.backend, true);  // the device is the caller's to check
  const QuietC10dLogs quiet;
  auto store = connect_store(env, options.timeout);
  std::vector<Peer> peers;
  try {
    peers = check_membership(*store, env, options.timeout);
  } catch (const c10::Error& e) {  // the store itself failed: rank 0 (its host) is gone, or a timeout
    throw std::runtime_error("rank " + std::to_string(env.rank) + ": joining the group at " + env.master_addr + ":" +
                             std::to_string(env.master_port) +
                             " failed: " + text::first_line(e.what_without_backtrace()));
  }
  auto collective = std::make_unique<GroupCollective>(store, env, std::move(peers), options.timeout);
#ifdef LENET5_HAVE_GLOO
  if (options.backend == Backend::kGloo) join_gloo(*collective, store, env, options);
#endif
#ifdef LENET5_HAVE_NCCL
  if (options.backend == Backend::kNccl) {
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = options.timeout;
    collective->use_nccl(c10::make_intrusive<c10d::ProcessGroupNCCL>(
        c10::make_intrusive<c10d::PrefixStore>("nccl", store), env.rank, env.world_size, nccl_options));
  }
#endif
  return collective;
}

#endif  // LENET5_HAVE_C10D

}  // namespace lenet5::distributed
