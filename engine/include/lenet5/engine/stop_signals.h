// Ctrl-C (SIGINT) and SIGTERM as a request to stop at the next safe point instead of an immediate end.
#pragma once

#include <atomic>

namespace lenet5::engine {

// While alive, the first SIGINT or SIGTERM only raises flag() (the handler does nothing else); the handler is
// then reset, so a second signal ends the process as usual. Give flag() to TrainOptions::stop. Only one may be
// alive at a time.
class StopOnSignals {
 public:
  StopOnSignals();
  ~StopOnSignals();  // restores the previous handlers
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

  const std::atomic<bool>& flag() const;
  int signal_number() const;  // the signal that raised the flag; 0 while none has
  // Ends the process the way the signal would have (its default action), so that the parent sees which signal
  // it was (a shell reports 130 for SIGINT, 143 for SIGTERM). Call after the stop has been reported.
  [[noreturn]] void end_process_by_signal();
};

}  // namespace lenet5::engine
