// Joining a c10d process group (TCPStore + ProcessGroupGloo, or ProcessGroupNCCL where LibTorch has it) as an
// engine::Collective. The only header of lenet5 that leads to c10d, and it does not include it: callers see torch
// and the launch environment only.
#pragma once

#include <chrono>
#include <memory>

#include "lenet5/distributed/environment.h"
#include "lenet5/engine/collective.h"

namespace lenet5::distributed {

// Whether this build has c10d with Gloo (Debian's libtorch-dev and official LibTorch builds do, when the Gloo
// headers were found at configure time), and NCCL (CUDA LibTorch builds).
bool has_gloo();
bool has_nccl();
// Whether Gloo's own all-reduce algorithms link here, for the synchronous all-reduce of floats (GroupOptions).
bool has_sync_all_reduce();

// The backend `requested` means on a device: kAuto is NCCL on CUDA, Gloo on CPU.
Backend resolve_backend(Backend requested, bool on_cuda);

// Throws a one-line error naming --dist-backend when this build lacks `backend` (resolved, not kAuto), or
// when it is NCCL and the ranks train on CPU.
void require_backend(Backend backend, bool on_cuda);

struct GroupOptions {
  Backend backend = Backend::kGloo;  // resolved (not kAuto)
  // How long a rank waits for the others: to join, and in every collective. A rank that dies is noticed at
  // once (its connections close); a rank that hangs, after this long.
  std::chrono::milliseconds timeout = std::chrono::seconds(120);
  // Whether a Gloo rank spins on its sockets while it waits for the others in an all-reduce of floats (the
  // gradients), as MPI libraries do: the fastest wait for a rank that has a core of its own (lenet5 train
  // --cpu-bind), a waste of the others' cores otherwise. When false, the rank sleeps until the data comes.
  bool busy_poll = false;
};

// Joins the group `env` describes: rank 0 hosts the TCPStore at MASTER_ADDR:MASTER_PORT (torchrun 2.x's agent
// hosts it instead), every rank checks that the others agree on WORLD_SIZE and hold distinct ranks, then the
// backend connects them. Throws std::runtime_error with one line on any failure (port in use, master not
// reachable, ranks missing after the timeout, a backend this build lacks).
std::unique_ptr<engine::Collective> join_process_group(const LaunchEnvironment& env, const GroupOptions& options);

}  // namespace lenet5::distributed
