#include "lenet5/serve/batcher.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace lenet5::serve {

DynamicBatcher::DynamicBatcher(Classifier classify, BatcherOptions options, Metrics* metrics)
    : classify_(std::move(classify)), options_(options), metrics_(metrics) {
  if (options_.max_batch < 1) throw std::invalid_argument("max_batch must be at least 1");
  thread_ = std::thread([this] { run(); });
}

DynamicBatcher::~DynamicBatcher() { stop(); }

std::future<std::vector<Classification>> DynamicBatcher::submit(std::vector<deploy::GrayImage> images) {
  Job job{std::move(images), {}, std::chrono::steady_clock::now()};
  auto answer = job.answer.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw std::runtime_error("the server is shutting down");
    queue_.push_back(std::move(job));
    if (metrics_) metrics_->set_queue_depth(static_cast<int64_t>(queue_.size()));
  }
  arrived_.notify_one();
  return answer;
}

void DynamicBatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_one();
  if (thread_.joinable()) thread_.join();
}

DynamicBatcher::Arrival::Arrival(DynamicBatcher& batcher) : batcher_(batcher) {
  std::lock_guard<std::mutex> lock(batcher_.mutex_);
  ++batcher_.on_their_way_;
}

DynamicBatcher::Arrival::~Arrival() {
  {
    std::lock_guard<std::mutex> lock(batcher_.mutex_);
    --batcher_.on_their_way_;
  }
  batcher_.arrived_.notify_one();
}

void DynamicBatcher::run() {
  for (auto batch = next_batch(); !batch.empty(); batch = next_batch()) classify(batch);
}

// The oldest job, then whatever arrives until max_batch images are gathered, max_delay has passed since that
// job arrived, or no other request is on its way. A job that would overflow the batch waits for the next one.
std::vector<DynamicBatcher::Job> DynamicBatcher::next_batch() {
  std::unique_lock<std::mutex> lock(mutex_);
  arrived_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  std::vector<Job> batch;
  if (queue_.empty()) return batch;  // stopping, nothing left
  const auto deadline = queue_.front().arrived + options_.max_delay;
  int64_t images = 0;
  while (true) {
    while (!queue_.empty()) {
      const auto size = static_cast<int64_t>(queue_.front().images.size());
      if (!batch.empty() && images + size > options_.max_batch) break;
      images += size;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool full = images >= options_.max_batch || !queue_.empty();
    const auto nothing_to_wait_for = [this] { return stopping_ || !queue_.empty() || on_their_way_ == 0; };
    if (full || nothing_to_wait_for() || !arrived_.wait_until(lock, deadline, nothing_to_wait_for)) break;
  }
  if (metrics_) metrics_->set_queue_depth(static_cast<int64_t>(queue_.size()));
  return batch;
}

void DynamicBatcher::classify(std::vector<Job>& batch) {
  std::vector<deploy::GrayImage> images;
  for (const auto& job : batch) images.insert(images.end(), job.images.begin(), job.images.end());
  std::vector<Classification> answers;
  try {
    for (size_t start = 0; start < images.size(); start += static_cast<size_t>(options_.max_batch)) {
      const size_t end = std::min(images.size(), start + static_cast<size_t>(options_.max_batch));
      const std::vector<deploy::GrayImage> pass(images.begin() + static_cast<std::ptrdiff_t>(start),
                                                images.begin() + static_cast<std::ptrdiff_t>(end));
      auto pass_answers = classify_(pass);
      if (pass_answers.size() != pass.size()) throw std::logic_error("the classifier lost images");
      if (metrics_) metrics_->observe_batch(static_cast<int64_t>(pass.size()));
      std::move(pass_answers.begin(), pass_answers.end(), std::back_inserter(answers));
    }
  } catch (...) {
    for (auto& job : batch) job.answer.set_exception(std::current_exception());
    return;
  }
  auto next = answers.begin();
  for (auto& job : batch) {
    const auto end = next + static_cast<std::ptrdiff_t>(job.images.size());
    job.answer.set_value(std::vector<Classification>(next, end));
    next = end;
  }
}

}  // namespace lenet5::serve
