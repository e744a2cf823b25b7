#include "lenet5/distributed/cpu_binding.h"

#include <sched.h>

#include <stdexcept>

namespace lenet5::distributed {

const std::vector<std::pair<std::string, CpuBinding>>& cpu_binding_names() {
  static const std::vector<std::pair<std::string, CpuBinding>> table = {{"cores", CpuBinding::kCores},
                                                                        {"none", CpuBinding::kNone}};
  return table;
}

std::vector<int> cpu_share(const std::vector<int>& allowed, int local_rank, int local_world_size) {
  if (local_world_size < 1 || local_rank < 0 || local_rank >= local_world_size) {
    throw std::invalid_argument("cpu_share: local rank " + std::to_string(local_rank) + " of " +
                                std::to_string(local_world_size));
  }
  const size_t share = allowed.size() / static_cast<size_t>(local_world_size);
  if (share == 0) return {};
  const auto begin = allowed.begin() + static_cast<std::ptrdiff_t>(share * static_cast<size_t>(local_rank));
  return {begin, begin + static_cast<std::ptrdiff_t>(share)};
}

std::vector<int> bind_to_cpu_share(const LaunchEnvironment& env) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return {};
  std::vector<int> allowed;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) allowed.push_back(cpu);
  }
  const auto share = cpu_share(allowed, env.local_rank, env.local_world_size);
  if (share.empty()) return {};
  CPU_ZERO(&set);
  for (int cpu : share) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) return {};
  return share;
}

}  // namespace lenet5::distributed
