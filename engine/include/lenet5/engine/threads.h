// The one setting for every CPU thread pool LibTorch runs LeNet-5 on.
#pragma once

#include <cstdio>

namespace lenet5::engine {

// The default of every command: one thread. LeNet-5's operations are too small to split well, and on a busy
// machine a pool sized to the cores spins against the other load (XNNPACK's batch-1 path took 50-120 ms
// instead of 60 us with two threads on two busy cores).
constexpr int kDefaultThreads = 1;
// Beyond this a --threads value is a mistake: creating the threads would stall the process.
constexpr int kMaxThreads = 1024;

// CPUs this process may run on (its affinity mask), at least 1.
int available_cores();

// Sizes every pool from `threads` (0: one per available core): ATen's intra-op pool, which is OpenMP here and
// is also oneDNN's, and the pthreadpool that XNNPACK runs on (at::set_num_threads resizes both). Warns on
// `warnings` (one line) when `threads` exceeds the available cores. Throws std::invalid_argument naming
// --threads when it is negative or above kMaxThreads. Returns the thread count now in use.
int set_cpu_threads(int threads, std::FILE* warnings = stderr);

}  // namespace lenet5::engine
