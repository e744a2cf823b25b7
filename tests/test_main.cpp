// The tests' main: GoogleTest's, plus what a crash on a machine nobody can log into (the GPU check) needs to
// be found from its log: output line by line (no buffered line saying which case ran is lost), and a backtrace
// on a fatal signal, after which the signal ends the process as it would have.
#include <execinfo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

// AddressSanitizer reports fatal signals itself, better: the handler stays out of its way.
#if defined(__SANITIZE_ADDRESS__)
#define LENET5_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LENET5_UNDER_ASAN 1
#endif
#endif

namespace {

void print_backtrace_and_die(int signal) {
  static const char kHeader[] = "\n*** fatal signal in a test; backtrace:\n";
  [[maybe_unused]] const auto written = write(STDERR_FILENO, kHeader, sizeof kHeader - 1);
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
#ifndef LENET5_UNDER_ASAN
  // backtrace()'s first call loads libgcc's unwinder, which allocates: made here, not in a handler that may run
  // inside a crashed malloc (where it would hang until CTest's timeout instead of printing).
  void* warm_up[1];
  [[maybe_unused]] const int frames = backtrace(warm_up, 1);
  for (const int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(signal, print_backtrace_and_die);
#endif
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
