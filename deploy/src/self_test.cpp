#include <algorithm>

#include "export_checks.h"
#include "lenet5/deploy/export.h"
#include "lenet5/text/printable.h"

namespace lenet5::deploy {
namespace {
constexpr int64_t kCheckImages = 16;
constexpr double kGoldenRatioFraction = 0.6180339887498949;
using detail::max_abs;
}  // namespace

torch::Tensor check_batch() {
  return (torch::arange(kCheckImages * model::kImageSide * model::kImageSide, torch::kFloat64) * kGoldenRatioFraction)
      .frac()
      .to(torch::kFloat32)
      .view({kCheckImages, 1, model::kImageSide, model::kImageSide});
}

void detail::run_self_test(ExportedModel& loaded) {
  const std::string file = text::printable(loaded.path);
  torch::Tensor scores;
  try {
    c10::InferenceMode inference;
    const auto images = check_batch().to(loaded.device);
    scores = checked_scores(loaded.module.forward({images}), images.size(0), loaded.path)
                 .to(torch::kCPU, torch::kFloat32)
                 .contiguous();
  } catch (const DeployError&) {
    throw;
  } catch (const std::exception& e) {
    throw DeployError(file + ": the model fails on the check batch: " + error_summary(e));
  }
  const auto& recorded = loaded.metadata.check_scores;
  if (recorded.empty()) return;
  const auto expected = torch::tensor(recorded, torch::kFloat32);
  if (scores.numel() != expected.numel()) {
    throw DeployError(file + ": the model fails its self-test: " + std::to_string(scores.numel()) +
                      " scores for the check batch, " + std::to_string(expected.numel()) + " recorded");
  }
  // Bit-exact on the CPU it was exported on; other devices and kernels (TF32 on CUDA) round differently.
  const double relative = loaded.device.is_cpu() ? 1e-4 : 2e-2;
  const double difference = max_abs(scores.view({-1}) - expected);
  if (!(difference <= relative * std::max(1.0, max_abs(expected)))) {
    throw DeployError(file +
                      ": corrupt model: its scores for the self-test batch differ from those recorded at "
                      "export (max difference " +
                      std::to_string(difference) + ")");
  }
}

}  // namespace lenet5::deploy
