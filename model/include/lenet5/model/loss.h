#pragma once

#include <torch/torch.h>

#include "lenet5/model/lenet5.h"

namespace lenet5::model {

// The paper's MAP criterion for the RBF output: E = y_D + log(exp(-j) + sum_i exp(-y_i)), with scores = -y.
// It is cross-entropy over the 10 scores plus a constant "rubbish" score -j that keeps the RBF outputs
// from collapsing together.
constexpr double kMapRubbishScore = 10.0;  // j
torch::Tensor map_criterion(const torch::Tensor& scores, const torch::Tensor& targets);

// Mean loss of a batch as the variant's network computes it (LeNet5Impl::loss), for callers that hold scores
// without the network (an exported model): the MAP criterion for classic, cross-entropy over logits for modern.
torch::Tensor classification_loss(const torch::Tensor& scores, const torch::Tensor& targets, Variant variant);

}  // namespace lenet5::model
