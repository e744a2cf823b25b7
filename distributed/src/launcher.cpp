#include "lenet5/distributed/launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "lenet5/distributed/environment.h"

namespace lenet5::distributed {
namespace {

std::atomic<int> received_signal{0};
std::vector<pid_t>* forward_to = nullptr;  // the ranks, while the launcher waits for them

extern "C" void forward_signal(int signal) {
  received_signal = signal;
  if (forward_to == nullptr) return;
  for (pid_t pid : *forward_to) {
    if (pid > 0) kill(pid, signal);
  }
}

std::string describe_status(int rank, int status) {
  const std::string who = "rank " + std::to_string(rank);
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const char* name = sigabbrev_np(signal);
    return who + " was killed by signal " + std::to_string(signal) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return who + " exited with code " + std::to_string(WEXITSTATUS(status));
}

[[noreturn]] void exec_rank(const std::string& executable, const std::vector<std::string>& args,
                            const LaunchEnvironment& env) {
  for (const auto& [name, value] : environment_variables(env)) setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(executable.c_str(), argv.data());
  std::fprintf(stderr, "lenet5: error: cannot start rank %d (%s): %s\n", env.rank, executable.c_str(),
               std::strerror(errno));
  _exit(127);
}

// A forked rank: the launcher's copy with the rank's variables, running the command in-process.
[[noreturn]] void run_forked_rank(const std::function<int()>& run_rank, const LaunchEnvironment& env) {
  for (const auto& [name, value] : environment_variables(env)) setenv(name.c_str(), value.c_str(), 1);
  // Its environment as /proc shows it is still the launcher's: the name tells the ranks apart in ps and top.
  prctl(PR_SET_NAME, ("lenet5-rank" + std::to_string(env.rank)).c_str());
  const int code = run_rank();
  std::fflush(nullptr);
  _exit(code);  // not exit(): the launcher's static objects, copied into this process, are the launcher's to end
}

int rank_of(const std::vector<pid_t>& ranks, pid_t pid) {
  for (size_t r = 0; r < ranks.size(); ++r) {
    if (ranks[r] == pid) return static_cast<int>(r);
  }
  return -1;
}

void signal_ranks(const std::vector<pid_t>& ranks, int signal) {
  for (pid_t p : ranks) {
    if (p > 0) kill(p, signal);
  }
}

// Waits for every rank. After the first failure the others get a moment to notice the lost rank themselves (and
// say so), then SIGTERM (they stop before their next step), then SIGKILL after the grace period.
std::string wait_for_ranks(std::vector<pid_t>& ranks, int grace_seconds) {
  using Clock = std::chrono::steady_clock;
  std::string failure;
  Clock::time_point term_at{}, kill_at{};
  bool termed = false;
  size_t running = ranks.size();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, failure.empty() ? 0 : WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;
    if (pid == 0) {  // others still stopping
      if (!termed && Clock::now() > term_at) {
        signal_ranks(ranks, SIGTERM);
        termed = true;
      }
      if (Clock::now() > kill_at) signal_ranks(ranks, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const int rank = rank_of(ranks, pid);
    if (rank < 0) continue;
    ranks[static_cast<size_t>(rank)] = -1;
    --running;
    const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (failed && failure.empty() && received_signal == 0) {
      failure = describe_status(rank, status);
      if (ranks.size() > 1) failure += ranks.size() > 2 ? "; stopped the other ranks" : "; stopped the other rank";
      term_at = Clock::now() + std::chrono::seconds(2);
      kill_at = term_at + std::chrono::seconds(grace_seconds);
    }
  }
  return failure;
}

}  // namespace

std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t begin = 0; begin < all.size();) {
    const size_t end = all.find('\0', begin);
    args.push_back(all.substr(begin, end - begin));
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return args;
}

std::vector<std::string> without_flag(const std::vector<std::string>& args, const std::string& flag) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      kept.insert(kept.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    if (args[i] == flag) {
      ++i;  // and its value
    } else if (args[i].rfind(flag + "=", 0) != 0) {
      kept.push_back(args[i]);
    }
  }
  return kept;
}

int thread_count() {
  std::error_code error;
  int count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return count;
}

int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("--nproc: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) throw std::runtime_error(std::string("--nproc: cannot find a free port: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

LaunchOutcome launch_local_ranks(const std::string& executable, const std::vector<std::string>& args, int nproc,
                                 int grace_seconds, const std::function<int()>& run_rank) {
  const bool fork_only = run_rank && thread_count() == 1;
  LaunchEnvironment env;
  env.world_size = nproc;
  env.local_world_size = nproc;
  env.master_addr = "127.0.0.1";
  env.master_port = static_cast<uint16_t>(free_local_port());
  env.run_id = "lenet5-" + std::to_string(getpid());
  std::vector<pid_t> ranks(static_cast<size_t>(nproc), -1);
  received_signal = 0;
  struct sigaction action {
  }, old_int{}, old_term{};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  forward_to = &ranks;
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  // A signal this process ignores (SIGINT in a shell's background job) stays ignored, as it is in the ranks.
  if (old_int.sa_handler == SIG_IGN) sigaction(SIGINT, &old_int, nullptr);
  if (old_term.sa_handler == SIG_IGN) sigaction(SIGTERM, &old_term, nullptr);
  std::fflush(nullptr);
  std::string start_failure;
  for (int r = 0; r < nproc && received_signal == 0; ++r) {
    env.rank = r;
    env.local_rank = r;
    const pid_t pid = fork();
    if (pid == 0) {
      sigaction(SIGINT, &old_int, nullptr);
      sigaction(SIGTERM, &old_term, nullptr);
      // Its own process group: a terminal's Ctrl-C reaches the ranks once, through the launcher (a second
      // SIGINT would end them at once instead of before their next step); and it ends with the launcher.
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (fork_only) run_forked_rank(run_rank, env);
      exec_rank(executable, args, env);
    }
    if (pid < 0) {
      signal_ranks(ranks, SIGTERM);
      start_failure = "cannot start rank " + std::to_string(r) + ": " + std::strerror(errno);
      break;
    }
    ranks[static_cast<size_t>(r)] = pid;
  }
  LaunchOutcome outcome;
  outcome.failure = wait_for_ranks(ranks, grace_seconds);
  if (!start_failure.empty()) outcome.failure = start_failure;
  forward_to = nullptr;
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  outcome.signal = received_signal;
  return outcome;
}

}  // namespace lenet5::distributed
