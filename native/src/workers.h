// Threads kept for the life of the process that run one job at a time, the caller's thread included: a batch
// split over threads then costs a wake-up rather than a thread's start (0.1-0.2 ms here with its first touch of
// scratch memory, 2-3% of a batch of 1024 on 2 threads).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lenet5::native::detail {

class Workers {
 public:
  // The process's workers (created on first use, never more than `threads` - 1 asked of them at once).
  static Workers& shared();

  Workers() = default;
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  // Runs job() on `threads` threads at once (this one and threads - 1 workers), returning when every call has
  // returned. Another caller's job in progress makes this one run job() on this thread alone: callers never wait
  // for each other. So does a child of fork(), which has none of its parent's workers.
  void run(int threads, const std::function<void()>& job);

 private:
  void work();

  std::mutex busy_;  // held by the caller whose job the workers run
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::vector<std::thread> threads_;
  const std::function<void()>* job_ = nullptr;
  uint64_t generation_ = 0;  // one more for each job
  int wanted_ = 0;           // workers still to pick up the current job
  int running_ = 0;          // workers inside job()
  bool stop_ = false;
  int owner_ = 0;  // the process the workers run in
};

}  // namespace lenet5::native::detail
