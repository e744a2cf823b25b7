// The gradient all-reduce of a CPU group, run on the calling thread: Gloo's halving-doubling algorithm over a Gloo
// context of its own whose sockets the caller reads itself (Gloo's synchronous mode), busy-polling them when the
// rank has a core of its own. Private to lenet5_distributed (it includes c10d and Gloo headers).
//
// Why: ProcessGroupGloo hands every collective to its worker thread, whose reads wait on Gloo's device thread;
// on a rank with one core those hand-offs cost more than the transfer. Two ranks on this 2-core VM, each bound
// to its core, 61,706 floats (LeNet-5's gradients) between 10 ms of arithmetic: 1.8-2.9 ms per all-reduce
// through ProcessGroupGloo (polling its work), 0.5-1.3 ms here; back to back, 1.4-1.5 ms against 0.23-0.34 ms.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace gloo {
class Context;
template <typename T>
class AllreduceHalvingDoubling;
namespace transport {
class Device;
}  // namespace transport
}  // namespace gloo
namespace c10d {
class Store;
}  // namespace c10d

namespace lenet5::distributed {

class SyncAllReduce {
 public:
  // Connects `size` ranks through `store` (collective: every rank constructs one). `busy_poll`: a waiting rank
  // spins on its sockets (for a rank with a core of its own) instead of sleeping in recv. `timeout` bounds every
  // wait for a peer.
  SyncAllReduce(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                const std::shared_ptr<gloo::transport::Device>& device, std::chrono::milliseconds timeout,
                bool busy_poll);
  ~SyncAllReduce();

  // Whether sum() takes `tensor` (float32 on the CPU, within the sizes it has set up). The same answer on every
  // rank for the same call, as it depends on the calls so far and the tensor's type and size only.
  bool takes(const torch::Tensor& tensor) const;
  // In place: the elementwise sum over the group, bit for bit the same on every rank. Throws (Gloo's error) when
  // a peer is lost or silent for the timeout.
  void sum(const torch::Tensor& tensor);

  // Gloo's synchronous mode writes from the calling thread, and in halving-doubling both ranks of a pair write
  // half a segment before either reads: a write larger than the two sockets' buffers together waits for the
  // timeout (measured here on loopback: fine up to 8 MB a write, a write timeout at 32 MB). So long tensors go
  // in segments whose halves, 64 KB, fit Linux's default socket buffers on any link.
  static constexpr int64_t kSegmentValues = 32 * 1024;

 private:
  struct Segment;  // an algorithm over a buffer of one length
  Segment& segment_of_length(int64_t length);
  std::vector<int64_t> segment_lengths(int64_t numel) const;

  std::shared_ptr<gloo::Context> context_;
  std::map<int64_t, std::unique_ptr<Segment>> segments_;  // by length: the same on every rank, unlike addresses
};

}  // namespace lenet5::distributed
