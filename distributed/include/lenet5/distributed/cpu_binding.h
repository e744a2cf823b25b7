// Binding each local rank to its own share of the machine's cores (lenet5 train --cpu-bind), as MPI launchers
// do by default for a few ranks (Open MPI: --bind-to core). Torch-free.
//
// Why: on a 2-core machine, two unbound ranks and their Gloo threads migrate between the cores; each rank
// waited 1.9-2.7 ms per all-reduce unbound, 1.25-1.5 ms bound (README, "Distributed figures").
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lenet5/distributed/environment.h"

namespace lenet5::distributed {

enum class CpuBinding { kCores, kNone };
// The one name table of CpuBinding (--cpu-bind).
const std::vector<std::pair<std::string, CpuBinding>>& cpu_binding_names();

// The CPUs of `allowed` (this process's CPUs, in order) that local rank `local_rank` of `local_world_size`
// gets: an equal, contiguous share, the remainder left unused. Empty when there are fewer CPUs than local
// ranks (then no rank is bound).
std::vector<int> cpu_share(const std::vector<int>& allowed, int local_rank, int local_world_size);

// Binds the calling thread, and every thread it starts afterwards (c10d's, Gloo's, ATen's), to its share of
// the CPUs this process may use. Call it before those threads start. Returns the CPUs, empty when the
// machine has too few to bind (or the system refused: binding is a speed-up, never a reason to fail).
std::vector<int> bind_to_cpu_share(const LaunchEnvironment& env);

}  // namespace lenet5::distributed
