#include "lenet5/deploy/session.h"

#include <torch/csrc/jit/passes/xnnpack_rewrite.h>

#include <algorithm>

#include "lenet5/deploy/export.h"

namespace lenet5::deploy {
namespace {

torch::Tensor run(torch::jit::Module& module, const torch::Tensor& images) {
  return module.forward({images}).toTensor();
}

// Whether `candidate` gives the reference's scores (to float rounding) on the check batch, in full and as
// its first image alone.
bool agrees(torch::jit::Module& candidate, torch::jit::Module& reference, const torch::Device& device) {
  try {
    c10::InferenceMode inference;
    const auto images = check_batch().to(device);
    for (const auto& batch : {images, images.slice(0, 0, 1)}) {
      const auto expected = run(reference, batch);
      const auto actual = run(candidate, batch);
      const double scale = std::max(1.0, expected.abs().max().item<double>());
      if (actual.sizes() != expected.sizes() || !((actual - expected).abs().max().item<double>() <= 1e-4 * scale)) {
        return false;
      }
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

InferenceSession::InferenceSession(const torch::jit::Module& module, const torch::Device& device) {
  auto reference = module.clone();
  reference.to(device);
  reference.eval();
  large_batches_ = reference;
  large_batch_engine_ = "torchscript";
  try {
    auto copy = reference.clone();
    auto optimized = torch::jit::optimize_for_inference(copy);  // freezes its own copy
    if (agrees(optimized, reference, device)) {
      large_batches_ = optimized;
      large_batch_engine_ = device.is_cpu() ? "onednn" : "frozen";
    }
  } catch (const std::exception&) {
  }
  if (!device.is_cpu()) return;
  try {
    auto copy = reference.clone();
    auto frozen = torch::jit::freeze(copy);
    auto mobile = torch::jit::optimizeForMobile(frozen);
    if (agrees(mobile, reference, device)) small_batches_ = mobile;
  } catch (const std::exception&) {
  }
}

torch::Tensor InferenceSession::forward(const torch::Tensor& images) {
  c10::InferenceMode inference;
  if (small_batches_ && images.dim() > 0 && images.size(0) <= kSmallBatchMax) return run(*small_batches_, images);
  return run(large_batches_, images);
}

std::string InferenceSession::engine_for(int64_t batch_size) const {
  if (small_batches_ && batch_size <= kSmallBatchMax) return "xnnpack";
  return large_batch_engine_;
}

}  // namespace lenet5::deploy
