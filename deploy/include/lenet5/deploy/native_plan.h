// The exported LeNet-5 as a native::NativePlan: its weights read from the TorchScript module when the module's
// forward is the layer sequence lenet5 exports (either variant, plain or frozen), checked against the module.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>

#include "lenet5/native/plan.h"

namespace lenet5::deploy {

struct NativePlanResult {
  std::shared_ptr<const native::NativePlan> plan;  // null when the module cannot be served natively
  std::string why_not;                             // then one line saying why
};

// A plan for `module` (on the CPU) running `isa`'s kernels, when its forward is LeNet-5 as exported (the same
// aten operations in the same order, float32 tensors of the exact shapes) and the plan reproduces the module's
// scores on the check batch and on random images (1e-4 of the largest score, i.e. float rounding).
NativePlanResult native_plan_for(torch::jit::Module& module, native::Isa isa = native::best_isa());

// Scores [N,10] of `plan` for images [N,1,28,28] float32 on the CPU (any strides), using up to `threads` threads.
torch::Tensor native_forward(const native::NativePlan& plan, const torch::Tensor& images, int threads);

// Whether native_forward takes `images`; other inputs go to the module (and its error messages).
bool native_accepts(const torch::Tensor& images);

}  // namespace lenet5::deploy
