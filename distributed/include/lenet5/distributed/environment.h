// The launch environment of one rank, as torchrun (or `lenet5 train --nproc N`) sets it. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lenet5::distributed {

enum class Backend { kAuto, kGloo, kNccl };
// The one name table of Backend (--dist-backend).
const std::vector<std::pair<std::string, Backend>>& backend_names();
std::string backend_name(Backend backend);

// The variables torchrun sets for each worker (torch.distributed.elastic), and the ones lenet5 reads from them.
struct LaunchEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  uint16_t master_port = 29500;
  int restart_count = 0;     // TORCHELASTIC_RESTART_COUNT: how often torchrun restarted the group
  std::string run_id;        // TORCHELASTIC_RUN_ID
  bool agent_store = false;  // TORCHELASTIC_USE_AGENT_STORE=True (torchrun 2.x): the agent hosts the store
};

using GetEnv = std::function<const char*(const char*)>;

// nullopt when neither RANK nor WORLD_SIZE is set (a plain, single-process run). Otherwise every variable is
// checked: a missing or malformed one throws std::invalid_argument naming it and its value, e.g.
// "RANK=2 is not below WORLD_SIZE=2". `getenv` defaults to the process environment.
std::optional<LaunchEnvironment> read_launch_environment(const GetEnv& getenv = nullptr);

// The variables that describe `env` to a child process, as torchrun would set them.
std::vector<std::pair<std::string, std::string>> environment_variables(const LaunchEnvironment& env);

}  // namespace lenet5::distributed
