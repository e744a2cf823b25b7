// What data-parallel training needs from its process group, in torch terms only: the c10d implementation lives
// in lenet5_distributed, so the engine and its users never include c10d or Gloo headers.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace lenet5::engine {

// One process of a group that trains one model together. Every call is collective: each rank of the group makes
// the same calls in the same order. Errors (a lost rank, a timeout) throw std::runtime_error with one line.
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // In place: every rank ends with the elementwise sum over the group, bit for bit the same on each rank.
  virtual void all_reduce_sum(torch::Tensor& tensor) = 0;
  // An all-reduce that runs while the caller goes on.
  class Pending {
   public:
    virtual ~Pending() = default;
    // Blocks until the sum is in the tensor; throws like all_reduce_sum. Call it once.
    virtual void wait() = 0;
  };
  // Starts the in-place sum of `tensor` over the group on the backend's own thread and returns at once; the
  // tensor must stay untouched until wait(). All-reduces complete in the order they were started.
  virtual std::unique_ptr<Pending> start_all_reduce_sum(const torch::Tensor& tensor) = 0;
  // In place: every rank ends with rank `root`'s values.
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  // What the all-reduces so far cost this rank: their number, bytes, and the seconds it was blocked by them (a
  // whole all_reduce_sum; the wait() of a started one, whose transfer overlapped the caller's work).
  struct Statistics {
    int64_t all_reduces = 0, bytes = 0;
    double seconds = 0;
  };
  virtual Statistics statistics() const = 0;
  // `text` as rank 0 gave it, on every rank (e.g. the run folder rank 0 chose).
  virtual std::string share_from_rank0(const std::string& text) = 0;
};

}  // namespace lenet5::engine
