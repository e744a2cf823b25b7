#include "lenet5/engine/stop_signals.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace lenet5::engine {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
std::atomic<bool> stop_flag{false};
volatile std::sig_atomic_t stop_signal = 0;
struct sigaction previous_interrupt, previous_terminate;

extern "C" void raise_stop_flag(int signal_number) {
  stop_signal = signal_number;
  stop_flag.store(true);
}

}  // namespace

StopOnSignals::StopOnSignals() {
  stop_flag.store(false);
  stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = raise_stop_flag;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: the first signal asks, a second one ends the process as usual. SA_RESTART: a read or write
  // the signal interrupts carries on instead of failing with EINTR.
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &action, &previous_interrupt);
  sigaction(SIGTERM, &action, &previous_terminate);
  // A signal the parent chose to ignore (a background job of a script, nohup) stays ignored.
  if (previous_interrupt.sa_handler == SIG_IGN) sigaction(SIGINT, &previous_interrupt, nullptr);
  if (previous_terminate.sa_handler == SIG_IGN) sigaction(SIGTERM, &previous_terminate, nullptr);
}

StopOnSignals::~StopOnSignals() {
  sigaction(SIGINT, &previous_interrupt, nullptr);
  sigaction(SIGTERM, &previous_terminate, nullptr);
}

const std::atomic<bool>& StopOnSignals::flag() const { return stop_flag; }

int StopOnSignals::signal_number() const { return stop_signal; }

void StopOnSignals::end_process_by_signal() {
  const int signal_number = stop_signal != 0 ? stop_signal : SIGINT;
  std::signal(signal_number, SIG_DFL);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, signal_number);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  ::raise(signal_number);
  std::_Exit(128 + signal_number);  // not reached unless the signal is ignored by the default action
}

}  // namespace lenet5::engine
