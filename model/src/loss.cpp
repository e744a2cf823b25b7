#include "lenet5/model/loss.h"

namespace lenet5::model {

torch::Tensor map_criterion(const torch::Tensor& scores, const torch::Tensor& targets) {
  auto rubbish = torch::full({scores.size(0), 1}, -kMapRubbishScore, scores.options());
  return torch::nn::functional::cross_entropy(torch::cat({scores, rubbish}, 1), targets);
}

torch::Tensor classification_loss(const torch::Tensor& scores, const torch::Tensor& targets, Variant variant) {
  if (variant == Variant::kClassic) return map_criterion(scores, targets);
  return torch::nn::functional::cross_entropy(scores, targets);
}

}  // namespace lenet5::model
