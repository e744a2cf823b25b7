#include "lenet5/deploy/session.h"

#include <torch/csrc/jit/passes/xnnpack_rewrite.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "lenet5/deploy/export.h"
#include "lenet5/deploy/native_plan.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/text/printable.h"

namespace lenet5::deploy {
using text::printable;
namespace {

std::string type_of(const c10::IValue& value) { return value.isNone() ? "None" : value.type()->repr_str(); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto begin = line.find_first_not_of(" \t\r");
    if (begin != std::string::npos) lines.push_back(line.substr(begin));
  }
  return lines;
}

torch::Tensor run(torch::jit::Module& module, const torch::Tensor& images) {
  return module.forward({images}).toTensor();
}

// Why `candidate` cannot stand in for the reference: "" when it gives the reference's scores (to float
// rounding) on the check batch, in full and as its first image alone.
std::string disagreement(torch::jit::Module& candidate, torch::jit::Module& reference, const torch::Device& device) {
  try {
    c10::InferenceMode inference;
    const auto images = check_batch().to(device);
    for (const auto& batch : {images, images.slice(0, 0, 1)}) {
      const auto expected = run(reference, batch);
      const auto actual = run(candidate, batch);
      const double scale = std::max(1.0, expected.abs().max().item<double>());
      if (actual.sizes() != expected.sizes() || !((actual - expected).abs().max().item<double>() <= 1e-4 * scale)) {
        return "its scores differ from the module's on the check batch";
      }
    }
    return "";
  } catch (const std::exception& e) {
    return "it fails on the check batch: " + error_summary(e);
  }
}

// The module compiled by `compile`, or nullopt with the reason in `notes` ("<what> not used: <why>").
template <typename Compile>
std::optional<torch::jit::Module> compiled(torch::jit::Module& reference, const torch::Device& device,
                                           const std::string& what, Compile compile, std::vector<std::string>& notes) {
  std::string why;
  try {
    auto copy = reference.clone();
    auto candidate = compile(copy);
    why = disagreement(candidate, reference, device);
    if (why.empty()) return candidate;
  } catch (const std::exception& e) {
    why = "it does not compile: " + error_summary(e);
  }
  notes.push_back(what + " not used: " + why);
  return std::nullopt;
}

// The module's own check: finite float scores [16,10] on the check batch.
void check_module(torch::jit::Module& module, const torch::Device& device) {
  try {
    c10::InferenceMode inference;
    const auto images = check_batch().to(device);
    checked_scores(module.forward({images}), images.size(0), "the model");
  } catch (const DeployError&) {
    throw;
  } catch (const std::exception& e) {
    throw DeployError("the model fails on the check batch: " + error_summary(e));
  }
}

}  // namespace

torch::Tensor checked_scores(const c10::IValue& output, int64_t batch, const std::string& model) {
  const std::string expected = "[" + std::to_string(batch) + ", " + std::to_string(model::kNumClasses) + "]";
  if (!output.isTensor()) {
    throw DeployError(text::printable(model) + ": forward returns " + type_of(output) + ", expected a tensor " +
                      expected);
  }
  const auto scores = output.toTensor();
  if (scores.dim() != 2 || scores.size(0) != batch || scores.size(1) != model::kNumClasses) {
    std::ostringstream shape;
    shape << scores.sizes();
    throw DeployError(text::printable(model) + ": forward returns " + shape.str() + ", expected " + expected);
  }
  if (!scores.is_floating_point()) {
    throw DeployError(text::printable(model) + ": forward returns " + std::string(c10::toString(scores.scalar_type())) +
                      " scores, expected floating point");
  }
  const int64_t bad = torch::isfinite(scores).logical_not().any(1).sum().item<int64_t>();
  if (bad > 0) {
    throw DeployError(text::printable(model) + ": forward returns non-finite scores (NaN or infinity) for " +
                      std::to_string(bad) + " of " + std::to_string(batch) + " images");
  }
  return scores;
}

std::string error_summary(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  const auto lines = lines_of(c10_error != nullptr ? c10_error->what_without_backtrace() : error.what());
  if (lines.empty()) return "unknown error";
  // The interpreter's report ends with the Python-style exception line ("RuntimeError: ...").
  const bool traceback = std::any_of(lines.begin(), lines.end(), [](const std::string& line) {
    return line.rfind("Traceback of TorchScript", 0) == 0;
  });
  if (traceback) {
    const auto names_an_exception = [](const std::string& line) {  // "RuntimeError: ...", "builtins.ValueError: ..."
      const auto colon = line.find(": ");
      return colon != std::string::npos && colon > 0 &&
             std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                         [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; });
    };
    const auto last = std::find_if(lines.rbegin(), lines.rend(), names_an_exception);
    if (last != lines.rend()) return text::printable(*last);
  }
  return text::printable(lines.front());
}

InferenceSession::InferenceSession(const torch::jit::Module& module, const torch::Device& device) {
  auto reference = module.clone();
  reference.to(device);
  reference.eval();
  check_module(reference, device);
  large_batches_ = reference;
  large_batch_engine_ = "torchscript";
  if (device.is_cpu()) {
    auto native = native_plan_for(reference);
    native_ = native.plan;
    if (native_) return;
    notes_.push_back("native plan not used: " + native.why_not);
  }
  const std::string large_name = device.is_cpu() ? "onednn" : "frozen";
  auto optimized = compiled(
      reference, device, large_name + " (optimize_for_inference)",
      [](torch::jit::Module& copy) { return torch::jit::optimize_for_inference(copy); }, notes_);
  if (optimized) {
    large_batches_ = *optimized;
    large_batch_engine_ = large_name;
  }
  if (!device.is_cpu()) return;
  small_batches_ = compiled(
      reference, device, "xnnpack (optimize_for_mobile)",
      [](torch::jit::Module& copy) { return torch::jit::optimizeForMobile(torch::jit::freeze(copy)); }, notes_);
}

torch::Tensor InferenceSession::forward(const torch::Tensor& images) {
  c10::InferenceMode inference;
  if (native_ && native_accepts(images)) return native_forward(*native_, images, at::get_num_threads());
  if (small_batches_ && images.dim() > 0 && images.size(0) <= kSmallBatchMax) return run(*small_batches_, images);
  return run(large_batches_, images);
}

std::string InferenceSession::engine_for(int64_t batch_size) const {
  if (native_) return native_->engine_name();
  if (small_batches_ && batch_size <= kSmallBatchMax) return "xnnpack";
  return large_batch_engine_;
}

}  // namespace lenet5::deploy
