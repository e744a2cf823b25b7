#include "sync_all_reduce.h"

#include <gloo/allreduce_halving_doubling.h>
#include <gloo/rendezvous/context.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <algorithm>
#include <cstring>

namespace lenet5::distributed {
namespace {
// Each segment length sets up buffers and Gloo slots once; a program that all-reduces tensors of ever new
// lengths goes through ProcessGroupGloo beyond this many.
constexpr size_t kMaxSegmentLengths = 8;
}  // namespace

struct SyncAllReduce::Segment {
  std::vector<float> values;
  std::unique_ptr<gloo::AllreduceHalvingDoubling<float>> algorithm;
};

SyncAllReduce::SyncAllReduce(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                             const std::shared_ptr<gloo::transport::Device>& device, std::chrono::milliseconds timeout,
                             bool busy_poll) {
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
  c10d::ProcessGroupGloo::GlooStore gloo_store(c10::make_intrusive<c10d::PrefixStore>("sync", store));
  context->setTimeout(timeout);
  auto connect_with = device;
  context->connectFullMesh(gloo_store, connect_with);
  for (int peer = 0; peer < size; ++peer) {
    if (peer != rank) context->getPair(peer)->setSync(true, busy_poll);
  }
  context_ = std::move(context);
}

SyncAllReduce::~SyncAllReduce() = default;

std::vector<int64_t> SyncAllReduce::segment_lengths(int64_t numel) const {
  std::vector<int64_t> lengths;
  if (numel >= kSegmentValues) lengths.push_back(kSegmentValues);
  if (numel % kSegmentValues != 0) lengths.push_back(numel % kSegmentValues);
  return lengths;
}

bool SyncAllReduce::takes(const torch::Tensor& tensor) const {
  if (tensor.scalar_type() != torch::kFloat32 || !tensor.device().is_cpu() || tensor.numel() == 0) return false;
  size_t missing = 0;
  for (const int64_t length : segment_lengths(tensor.numel())) missing += segments_.count(length) == 0 ? 1 : 0;
  return segments_.size() + missing <= kMaxSegmentLengths;
}

SyncAllReduce::Segment& SyncAllReduce::segment_of_length(int64_t length) {
  auto& segment = segments_[length];
  if (!segment) {  // every rank sets it up at the same call, so Gloo's slots agree
    segment = std::make_unique<Segment>();
    segment->values.resize(static_cast<size_t>(length));
    segment->algorithm = std::make_unique<gloo::AllreduceHalvingDoubling<float>>(
        context_, std::vector<float*>{segment->values.data()}, static_cast<int>(length));
  }
  return *segment;
}

void SyncAllReduce::sum(const torch::Tensor& tensor) {
  auto values = tensor.contiguous();
  float* data = values.data_ptr<float>();
  const int64_t numel = values.numel();
  for (int64_t begin = 0; begin < numel; begin += kSegmentValues) {
    const int64_t length = std::min(kSegmentValues, numel - begin);
    auto& segment = segment_of_length(length);
    const size_t bytes = static_cast<size_t>(length) * sizeof(float);
    std::memcpy(segment.values.data(), data + begin, bytes);
    segment.algorithm->run();
    std::memcpy(data + begin, segment.values.data(), bytes);
  }
  if (!values.is_same(tensor)) tensor.copy_(values);
}

}  // namespace lenet5::distributed
