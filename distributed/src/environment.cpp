#include "lenet5/distributed/environment.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace lenet5::distributed {
namespace {

const char* process_getenv(const char* name) { return std::getenv(name); }

// A whole number in [min, max] from variable `name`; throws naming it when missing or malformed.
int64_t whole_variable(const GetEnv& getenv, const char* name, int64_t min, int64_t max,
                       std::optional<int64_t> fallback = std::nullopt) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') {
    if (fallback) return *fallback;
    throw std::invalid_argument(std::string(name) + " is not set; a distributed launch (torchrun) sets RANK, " +
                                "WORLD_SIZE, MASTER_ADDR and MASTER_PORT together");
  }
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) {
    throw std::invalid_argument(std::string(name) + "='" + text + "' is not a whole number in [" + std::to_string(min) +
                                ", " + std::to_string(max) + "]");
  }
  return value;
}

}  // namespace

const std::vector<std::pair<std::string, Backend>>& backend_names() {
  static const std::vector<std::pair<std::string, Backend>> table = {
      {"auto", Backend::kAuto}, {"gloo", Backend::kGloo}, {"nccl", Backend::kNccl}};
  return table;
}

std::string backend_name(Backend backend) {
  for (const auto& [name, known] : backend_names()) {
    if (known == backend) return name;
  }
  return "?";
}

std::optional<LaunchEnvironment> read_launch_environment(const GetEnv& given) {
  const GetEnv getenv = given ? given : GetEnv(process_getenv);
  if (getenv("RANK") == nullptr && getenv("WORLD_SIZE") == nullptr) return std::nullopt;
  constexpr int64_t kMaxRanks = 1 << 20;
  LaunchEnvironment env;
  env.world_size = static_cast<int>(whole_variable(getenv, "WORLD_SIZE", 1, kMaxRanks));
  env.rank = static_cast<int>(whole_variable(getenv, "RANK", 0, kMaxRanks));
  if (env.rank >= env.world_size) {
    throw std::invalid_argument("RANK=" + std::to_string(env.rank) + " is not below WORLD_SIZE=" +
                                std::to_string(env.world_size) + ": ranks are numbered 0 to WORLD_SIZE-1");
  }
  env.local_world_size =
      static_cast<int>(whole_variable(getenv, "LOCAL_WORLD_SIZE", 1, env.world_size, int64_t{env.world_size}));
  env.local_rank = static_cast<int>(whole_variable(getenv, "LOCAL_RANK", 0, env.local_world_size - 1, int64_t{0}));
  const char* addr = getenv("MASTER_ADDR");
  if (addr == nullptr || *addr == '\0') {
    throw std::invalid_argument("MASTER_ADDR is not set: the host of rank 0, which every rank connects to");
  }
  env.master_addr = addr;
  env.master_port = static_cast<uint16_t>(whole_variable(getenv, "MASTER_PORT", 1, 65535));
  env.restart_count = static_cast<int>(
      whole_variable(getenv, "TORCHELASTIC_RESTART_COUNT", 0, std::numeric_limits<int>::max(), int64_t{0}));
  if (const char* id = getenv("TORCHELASTIC_RUN_ID")) env.run_id = id;
  if (const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE")) env.agent_store = std::string(agent) == "True";
  return env;
}

std::vector<std::pair<std::string, std::string>> environment_variables(const LaunchEnvironment& env) {
  return {{"RANK", std::to_string(env.rank)},
          {"WORLD_SIZE", std::to_string(env.world_size)},
          {"LOCAL_RANK", std::to_string(env.local_rank)},
          {"LOCAL_WORLD_SIZE", std::to_string(env.local_world_size)},
          {"GROUP_RANK", "0"},
          {"MASTER_ADDR", env.master_addr},
          {"MASTER_PORT", std::to_string(env.master_port)},
          {"TORCHELASTIC_RESTART_COUNT", std::to_string(env.restart_count)},
          {"TORCHELASTIC_RUN_ID", env.run_id}};
}

}  // namespace lenet5::distributed
