#include "lenet5/model/loss.h"

namespace lenet5::model {

torch::Tensor classification_loss(const torch::Tensor& scores, const torch::Tensor& targets, Variant variant) {
  if (variant == Variant::kModern) return torch::nn::functional::cross_entropy(scores, targets);
  auto rubbish = torch::full({scores.size(0), 1}, -kMapRubbishScore, scores.options());
  return torch::nn::functional::cross_entropy(torch::cat({scores, rubbish}, 1), targets);
}

}  // namespace lenet5::model
