// `lenet5 train --nproc N`: N local ranks of this executable, started with the variables torchrun would set, so
// both launches end in the same code. Torch-free.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace lenet5::distributed {

// This process's arguments (argv[0] included), from /proc/self/cmdline.
std::vector<std::string> own_arguments();
// `args` without `flag` and its value ("--nproc 2" or "--nproc=2").
std::vector<std::string> without_flag(const std::vector<std::string>& args, const std::string& flag);
// A TCP port on 127.0.0.1 that no socket holds now (the kernel's choice).
int free_local_port();

struct LaunchOutcome {
  int signal = 0;       // the signal (SIGINT, SIGTERM) that stopped the launcher and was passed on; 0: none
  std::string failure;  // empty when every rank exited 0; else one line naming the first rank that failed
};

// Starts `nproc` ranks of `executable` with `args` (args[0] becomes their argv[0]), rank r with RANK=r,
// WORLD_SIZE=nproc, LOCAL_RANK=r, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT, then waits for them. When one
// fails (a non-zero exit or a signal), the others get SIGTERM, and SIGKILL after `grace_seconds`. SIGINT and
// SIGTERM sent to the launcher are passed on to every rank, which stop at their next step.
//
// With `run_rank`, a rank is this process forked, its variables set, running run_rank() (an exit code) instead of
// executing `executable` again: the rank starts without loading its libraries anew (about 0.6 s per rank here).
// Its process name (ps, top, /proc/PID/comm) is "lenet5-rankR" (its /proc/PID/environ stays the launcher's).
// That needs a process with one thread when it forks (a forked child gets only the forking thread, and a lock
// another thread held stays locked in it); with more, the ranks are executed as without it.
LaunchOutcome launch_local_ranks(const std::string& executable, const std::vector<std::string>& args, int nproc,
                                 int grace_seconds = 10, const std::function<int()>& run_rank = {});
// The number of threads of this process (from /proc/self/task).
int thread_count();

}  // namespace lenet5::distributed
