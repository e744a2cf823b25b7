// An exported LeNet-5 compiled for serving, as `lenet5 predict`, `lenet5 eval --model` and `lenet5 bench`
// (mode "optimized") run it.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lenet5::native {
class NativePlan;
}

namespace lenet5::deploy {

// The scores in `output` when it is a floating-point tensor [batch, 10] of finite values; otherwise throws
// DeployError "<model>: forward returns ..." saying what is wrong.
torch::Tensor checked_scores(const c10::IValue& output, int64_t batch, const std::string& model);

// The line of an error from TorchScript that says what went wrong, without the interpreter's traceback,
// the C++ frames or the source excerpt.
std::string error_summary(const std::exception& error);

// The module compiled for serving:
//   on CPU, when the module is LeNet-5 as lenet5 exports it: a native::NativePlan (native_plan.h), hand-written
//   kernels for every batch size, faster than the forms below at each (scripts/bench.sh --only onnx compares it
//   with ONNX Runtime, which ties with them);
//   otherwise two compiled forms, picked by batch size:
//   larger batches: freeze + optimize_for_inference (on CPU, oneDNN convolutions with prepacked weights);
//   on CPU, batches of up to kSmallBatchMax: optimize_for_mobile's XNNPACK kernels with prepacked weights.
// Each form must reproduce the module's scores on check_batch() (the native plan also on random images); one
// that fails to compile or disagrees is not used, and the next one serves. The module itself must give finite
// scores [16,10] on check_batch(): otherwise the constructor throws DeployError.
class InferenceSession {
 public:
  static constexpr int64_t kSmallBatchMax = 2;

  InferenceSession(const torch::jit::Module& module, const torch::Device& device);

  // Scores [N,10] for images [N,1,28,28]; runs under InferenceMode, the native plan on up to
  // at::get_num_threads() threads. Inputs the native plan does not take (another dtype or shape) go to the
  // module, which says what is wrong with them.
  torch::Tensor forward(const torch::Tensor& images);

  // Which compiled form serves a batch of this size: "native-avx2" or "native-scalar" (the native plan's
  // kernels), "xnnpack", "onednn" (CPU) or "frozen" (other devices), or "torchscript" when compilation was
  // not possible.
  std::string engine_for(int64_t batch_size) const;

  // Why a compiled form is not used, one line each ("native plan not used: ...", "onednn
  // (optimize_for_inference) not used: ..."); empty when the native plan serves (or, off the CPU, when every
  // form for the device serves).
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  std::shared_ptr<const native::NativePlan> native_;
  torch::jit::Module large_batches_;
  std::string large_batch_engine_;
  std::optional<torch::jit::Module> small_batches_;
  std::vector<std::string> notes_;
};

}  // namespace lenet5::deploy
