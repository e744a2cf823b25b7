#include "lenet5/engine/threads.h"

#include <ATen/Parallel.h>
#include <sched.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lenet5::engine {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

int set_cpu_threads(int threads, std::FILE* warnings) {
  if (threads < 0) throw std::invalid_argument("--threads: must be >= 0, got " + std::to_string(threads));
  if (threads > kMaxThreads) {
    throw std::invalid_argument("--threads: must be at most " + std::to_string(kMaxThreads) + ", got " +
                                std::to_string(threads));
  }
  const int cores = available_cores();
  if (threads > cores && warnings != nullptr) {
    std::fprintf(warnings,
                 "lenet5: warning: --threads %d exceeds the %d core%s this process may use; the threads will wait for "
                 "each other\n",
                 threads, cores, cores == 1 ? "" : "s");
  }
  const int count = threads == 0 ? cores : threads;
  at::set_num_threads(count);
  return at::get_num_threads();
}

}  // namespace lenet5::engine
