// Dynamic batching: requests that arrive together share one forward pass. One thread owns the classifier (and
// so the model's InferenceSession); request threads hand it their images and wait for the answers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "lenet5/deploy/image.h"
#include "lenet5/serve/metrics.h"

namespace lenet5::serve {

// What the network says about one 28x28 image.
struct Classification {
  int64_t label = -1;
  std::vector<float> probabilities;  // one per class, summing to 1
};

// Classifies 28x28 images in one forward pass, one answer per image, in order. Called from one thread only.
using Classifier = std::function<std::vector<Classification>(const std::vector<deploy::GrayImage>&)>;

struct BatcherOptions {
  int64_t max_batch = 64;                     // images per forward pass; 1 turns batching off
  std::chrono::microseconds max_delay{2000};  // how long the first request of a batch waits for others
};

class DynamicBatcher {
 public:
  // `metrics` (may be null) gets the size of every forward pass and the queue depth.
  DynamicBatcher(Classifier classify, BatcherOptions options, Metrics* metrics = nullptr);
  ~DynamicBatcher();  // stop()
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // The answers for `images`, once their batch has run; the future holds the classifier's exception when it
  // throws. A request's images always run together, in forward passes of at most max_batch; a request with
  // more images than that runs alone, in several passes. After stop(), throws std::runtime_error.
  std::future<std::vector<Classification>> submit(std::vector<deploy::GrayImage> images);

  // Runs what is queued, then ends the batching thread. Idempotent.
  void stop();

  // A request on its way (its body being read and decoded) that will submit soon. A batch waits for others
  // only while some are on their way, so that a request alone runs at once. Arrival's destructor withdraws it:
  // destroy it right after submit(), or when the request fails before.
  class Arrival {
   public:
    explicit Arrival(DynamicBatcher& batcher);
    ~Arrival();
    Arrival(const Arrival&) = delete;
    Arrival& operator=(const Arrival&) = delete;

   private:
    DynamicBatcher& batcher_;
  };

 private:
  struct Job {
    std::vector<deploy::GrayImage> images;
    std::promise<std::vector<Classification>> answer;
    std::chrono::steady_clock::time_point arrived;
  };

  void run();
  std::vector<Job> next_batch();  // blocks; empty once stopped and drained
  void classify(std::vector<Job>& batch);

  Classifier classify_;
  BatcherOptions options_;
  Metrics* metrics_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  int64_t on_their_way_ = 0;  // Arrivals alive
  std::thread thread_;
};

}  // namespace lenet5::serve
