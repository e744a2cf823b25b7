#include "workers.h"

#include <unistd.h>

namespace lenet5::native::detail {

Workers& Workers::shared() {
  static Workers workers;
  return workers;
}

Workers::~Workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void Workers::run(int threads, const std::function<void()>& job) {
  std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
  if (!busy.owns_lock() || threads <= 1 || (!threads_.empty() && owner_ != getpid())) return job();
  std::unique_lock<std::mutex> lock(mutex_);
  owner_ = getpid();
  while (static_cast<int>(threads_.size()) < threads - 1) threads_.emplace_back([this] { work(); });
  job_ = &job;
  wanted_ = threads - 1;
  ++generation_;
  lock.unlock();
  wake_.notify_all();
  job();
  lock.lock();
  finished_.wait(lock, [this] { return wanted_ == 0 && running_ == 0; });
  job_ = nullptr;
}

void Workers::work() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || (generation_ != seen && wanted_ > 0); });
    if (stop_) return;
    seen = generation_;
    --wanted_;
    ++running_;
    const auto* job = job_;
    lock.unlock();
    (*job)();
    lock.lock();
    --running_;
    if (wanted_ == 0 && running_ == 0) finished_.notify_one();
  }
}

}  // namespace lenet5::native::detail
