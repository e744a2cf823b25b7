// Helpers for the deploy tests: a briefly trained model and the real MNIST test set.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/model/loss.h"
#include "test_files.h"

namespace lenet5::testing {

// `steps` Adam steps of 64 images from the start of the MNIST training set: about 92% test accuracy for modern
// after 100 steps, 78% for classic after 60; a few seconds on one thread.
inline model::LeNet5 quick_trained_model(model::Variant variant, int64_t steps = 100) {
  torch::manual_seed(7);
  model::LeNet5 net(variant);
  const data::MnistDataset train(mnist_dir(), data::Split::kTrain);
  torch::optim::Adam optimizer(net->parameters(),
                               torch::optim::AdamOptions(variant == model::Variant::kClassic ? 5e-3 : 3e-3));
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t begin = step * 64 % (train.length() - 64);
    auto x = train.images().slice(0, begin, begin + 64);
    auto y = train.targets().slice(0, begin, begin + 64);
    optimizer.zero_grad();
    auto loss = model::classification_loss(net->forward(x), y, variant);
    loss.backward();
    optimizer.step();
  }
  net->eval();
  return net;
}

}  // namespace lenet5::testing
