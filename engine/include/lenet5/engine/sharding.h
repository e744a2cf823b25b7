// How data-parallel training splits an epoch: every rank draws the same permutation and takes, of each step's
// global batch, the positions rank, rank + world_size, ... (DistributedSampler's shard, without padding). Torch-free.
#pragma once

#include <algorithm>
#include <cstdint>

namespace lenet5::engine {

// The images of one step over all ranks: batch_size per rank, at most all `n`; no overflow for any batch size.
inline int64_t global_batch_of(int64_t n, int64_t batch_size, int world_size) {
  const int64_t all_per_rank = (std::max<int64_t>(n, 1) - 1) / world_size + 1;
  return std::min(batch_size, all_per_rank) * world_size;
}

// Positions [begin, end) of the epoch's permutation, every `stride`-th from begin, that one rank takes in one step.
struct StepShard {
  int64_t begin = 0, end = 0, stride = 1;
  int64_t size() const { return end > begin ? (end - begin + stride - 1) / stride : 0; }
};

// Rank `rank`'s part of step `step` (0-based) of an epoch over `n` images with `global_batch` images per step.
inline StepShard step_shard(int64_t step, int64_t n, int64_t global_batch, int rank, int world_size) {
  const int64_t begin = step * global_batch;
  const int64_t end = std::min(n, begin + global_batch);
  return {std::min(begin + rank, end), end, world_size};
}

}  // namespace lenet5::engine
