// Data-parallel gradient averaging that can overlap the backward pass, as DistributedDataParallel's reducer does:
// FlatAdamW's flat gradient buffer is cut into buckets of parameters in the order backward produces their
// gradients (the output layer first), and each bucket's all-reduce starts as soon as its last gradient is in,
// while backward goes on with the layers below.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "lenet5/engine/collective.h"
#include "lenet5/engine/flat_adamw.h"

namespace lenet5::engine {

class GradientBuckets {
 public:
  // A bucket closes once it holds at least this many bytes. The default is DistributedDataParallel's cap for
  // its first bucket (1 MiB): LeNet-5's 247 KB of gradients then travel in one all-reduce per step after
  // backward. Two buckets (C5 to the output during the convolutions' backward, then C1 and C3) measured no
  // faster on two CPU ranks over Gloo, where each all-reduce costs about 0.5 ms of latency even when tiny.
  static constexpr int64_t kDefaultBucketBytes = int64_t{1} << 20;  // TrainOptions::all_reduce_bucket_bytes too

  // Hooks every parameter of `optimizer` (which must be flat); both must outlive this object.
  GradientBuckets(Collective& group, FlatAdamW& optimizer, int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Before backward: this rank's gradients count `weight` times (its share of the global batch).
  void begin_step(double weight);
  // After backward (or instead of it, on a rank without images this step): sends what is left (zeros for
  // gradients backward did not produce), waits for every bucket and hands the sums to the optimiser.
  void finish_step();

  // The buckets as ranges of parameter indices [first, last], in the order they are sent.
  struct Bucket {
    size_t first = 0, last = 0;
    int64_t begin = 0, end = 0;  // elements of the flat buffer
  };
  const std::vector<Bucket>& buckets() const { return buckets_; }

 private:
  void on_gradient(size_t parameter, const torch::Tensor& gradient);
  void mark_ready(size_t parameter);
  void wait_for_all();

  Collective& group_;
  FlatAdamW& optimizer_;
  torch::Tensor buffer_;                           // the optimiser's flat gradient buffer
  std::vector<torch::Tensor> parameters_, views_;  // each parameter and its gradient's view of the flat buffer
  std::vector<unsigned> hooks_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // parameter -> bucket
  std::vector<size_t> missing_;    // per bucket: gradients not in yet this step
  std::vector<bool> arrived_;      // per parameter, this step
  size_t next_to_send_ = 0;
  std::vector<std::unique_ptr<Collective::Pending>> in_flight_;
  bool armed_ = false;
  double weight_ = 1;
};

}  // namespace lenet5::engine
