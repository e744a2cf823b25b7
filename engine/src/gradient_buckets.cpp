#include "lenet5/engine/gradient_buckets.h"

#include <stdexcept>
#include <utility>

namespace lenet5::engine {

GradientBuckets::GradientBuckets(Collective& group, FlatAdamW& optimizer, int64_t bucket_bytes)
    : group_(group), optimizer_(optimizer) {
  if (!optimizer.is_flat()) throw std::logic_error("GradientBuckets: the optimiser's parameters are not flat");
  if (bucket_bytes <= 0) throw std::invalid_argument("GradientBuckets: the bucket size must be positive");
  parameters_ = optimizer.param_groups().front().params();
  buffer_ = optimizer.gradient_buffer();
  const auto& offsets = optimizer.offsets();
  for (size_t i = 0; i < parameters_.size(); ++i) views_.push_back(optimizer.gradient_view(i));
  // Backward produces the last layer's gradients first: buckets are filled from the last parameter down, so that
  // each covers a contiguous range of the buffer.
  bucket_of_.resize(parameters_.size());
  const auto element = static_cast<int64_t>(buffer_.element_size());
  for (size_t i = parameters_.size(); i-- > 0;) {
    const int64_t end = offsets[i] + parameters_[i].numel();
    if (buckets_.empty() || (buckets_.back().end - buckets_.back().begin) * element >= bucket_bytes) {
      buckets_.push_back({i, i, offsets[i], end});
    }
    buckets_.back().first = i;
    buckets_.back().begin = offsets[i];
    bucket_of_[i] = buckets_.size() - 1;
  }
  arrived_.assign(parameters_.size(), false);
  missing_.assign(buckets_.size(), 0);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    hooks_.push_back(parameters_[i].register_hook([this, i](const torch::Tensor& gradient) {
      if (armed_) on_gradient(i, gradient);
    }));
  }
}

GradientBuckets::~GradientBuckets() {
  for (size_t i = 0; i < parameters_.size(); ++i) parameters_[i].remove_hook(hooks_[i]);
  try {
    wait_for_all();  // a step that threw halfway: its sends must end before the buffer may go
  } catch (const std::exception&) {
    // the group is broken; whoever threw first has said so
  }
}

void GradientBuckets::begin_step(double weight) {
  if (!in_flight_.empty()) throw std::logic_error("GradientBuckets: begin_step before the last step finished");
  weight_ = weight;
  arrived_.assign(parameters_.size(), false);
  for (size_t b = 0; b < buckets_.size(); ++b) missing_[b] = buckets_[b].last - buckets_[b].first + 1;
  next_to_send_ = 0;
  armed_ = true;
}

void GradientBuckets::on_gradient(size_t parameter, const torch::Tensor& gradient) {
  torch::NoGradGuard no_grad;
  auto& view = views_[parameter];
  if (arrived_[parameter]) {  // a parameter used twice in one forward: its gradients add up
    view.add_(gradient, weight_);
    return;
  }
  view.copy_(gradient);
  if (weight_ != 1) view.mul_(weight_);
  mark_ready(parameter);
}

// Sends every bucket that is complete and whose predecessors have gone: all ranks send in the same order.
void GradientBuckets::mark_ready(size_t parameter) {
  arrived_[parameter] = true;
  --missing_[bucket_of_[parameter]];
  while (next_to_send_ < buckets_.size() && missing_[next_to_send_] == 0) {
    const auto& bucket = buckets_[next_to_send_++];
    in_flight_.push_back(group_.start_all_reduce_sum(buffer_.slice(0, bucket.begin, bucket.end)));
  }
}

void GradientBuckets::wait_for_all() {
  auto pending = std::move(in_flight_);
  in_flight_.clear();
  for (auto& work : pending) work->wait();
}

void GradientBuckets::finish_step() {
  {
    torch::NoGradGuard no_grad;
    for (size_t i = parameters_.size(); i-- > 0;) {
      if (arrived_[i]) continue;
      views_[i].zero_();
      mark_ready(i);
    }
  }
  armed_ = false;
  wait_for_all();
  optimizer_.adopt_gradient_buffer();
}

}  // namespace lenet5::engine
