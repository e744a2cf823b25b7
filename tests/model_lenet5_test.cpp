#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/model/loss.h"
#include "lenet5/model/summary.h"
#include "test_files.h"

namespace {

using lenet5::model::LeNet5;
using lenet5::model::Variant;

std::map<std::string, int64_t> trainable_by_layer(const lenet5::model::ModelSummary& summary) {
  std::map<std::string, int64_t> counts;
  for (const auto& layer : summary.layers) counts[layer.name] = layer.trainable_parameters;
  return counts;
}

TEST(LeNet5Model, BothVariantsMapBatchesToTenScores) {
  for (Variant variant : {Variant::kClassic, Variant::kModern}) {
    torch::manual_seed(0);
    LeNet5 net(variant);
    auto scores = net->forward(torch::rand({3, 1, 28, 28}));
    EXPECT_EQ(scores.sizes(), (std::vector<int64_t>{3, 10})) << lenet5::model::variant_name(variant);
    EXPECT_TRUE(torch::isfinite(scores).all().item<bool>());
  }
}

TEST(LeNet5Model, ClassicMatchesThePapersCounts) {
  LeNet5 net(Variant::kClassic);
  const auto summary = lenet5::model::summarize(net);
  const std::map<std::string, int64_t> expected = {{"C1", 156},    {"S2", 12},     {"C3", 1516}, {"S4", 32},
                                                   {"C5", 48120}, {"F6", 10164}, {"output", 0}};
  EXPECT_EQ(trainable_by_layer(summary), expected);
  EXPECT_EQ(summary.trainable_parameters, 60000);
  EXPECT_EQ(lenet5::model::count_trainable_parameters(*net), 60000);
  EXPECT_EQ(summary.fixed_parameters, 840);
  EXPECT_EQ(summary.connections, 340908);
  const std::vector<std::vector<int64_t>> shapes = {{6, 28, 28}, {6, 14, 14}, {16, 10, 10}, {16, 5, 5},
                                                    {120, 1, 1}, {84},        {10}};
  for (size_t i = 0; i < shapes.size(); ++i) EXPECT_EQ(summary.layers[i].output_shape, shapes[i]);
  EXPECT_EQ(summary.layers[2].connections, 151600);
}

TEST(LeNet5Model, ModernHas61706Parameters) {
  LeNet5 net(Variant::kModern);
  EXPECT_EQ(lenet5::model::count_trainable_parameters(*net), 61706);
  EXPECT_EQ(lenet5::model::summarize(net).trainable_parameters, 61706);
}

TEST(LeNet5Model, LayersAreNamedAsInThePaper) {
  for (Variant variant : {Variant::kClassic, Variant::kModern}) {
    LeNet5 net(variant);
    std::vector<std::string> names;
    for (const auto& child : net->named_children()) names.push_back(child.key());
    EXPECT_EQ(names, (std::vector<std::string>{"C1", "S2", "C3", "S4", "C5", "F6", "output"}));
  }
}

TEST(LeNet5Model, ClassicInitialisationIsWithinFanInBounds) {
  LeNet5 net(Variant::kClassic);
  EXPECT_LE(net->C1->weight.abs().max().item<float>(), 2.4f / 25);
  EXPECT_LE(net->C5->weight.abs().max().item<float>(), 2.4f / 400);
  EXPECT_LE(net->F6->weight.abs().max().item<float>(), 2.4f / 120);
}

TEST(LeNet5Model, SquashingFunctionMapsOneToOne) {
  auto y = lenet5::model::scaled_tanh(torch::tensor({1.0f, -1.0f, 0.0f}));
  EXPECT_NEAR(y[0].item<float>(), 1.0f, 1e-3);
  EXPECT_NEAR(y[1].item<float>(), -1.0f, 1e-3);
  EXPECT_EQ(y[2].item<float>(), 0.0f);
}

TEST(LeNet5Model, C3AbsentConnectionsGetNoGradientAndStayZero) {
  torch::manual_seed(1);
  LeNet5 net(Variant::kClassic);
  auto& c3 = net->C3_sparse;
  const auto mask = c3->connection_mask();
  EXPECT_EQ(mask.sum().item<int64_t>(), 60);
  const auto& table = lenet5::model::c3_connection_table();
  EXPECT_TRUE(mask[0].equal(torch::tensor({1, 1, 1, 0, 0, 0}).to(torch::kBool)));
  EXPECT_EQ(table[15].size(), 6u);

  // C3 map 0 reads S2 maps 0-2 only: maps 3-5 get exactly zero gradient through it.
  auto s2 = torch::randn({2, 6, 14, 14}, torch::requires_grad());
  c3->forward(s2).select(1, 0).sum().backward();
  EXPECT_EQ(s2.grad().slice(1, 3, 6).abs().max().item<float>(), 0.0f);
  EXPECT_GT(s2.grad().slice(1, 0, 3).abs().min().item<float>(), 0.0f);

  // Training with momentum and weight decay keeps every absent kernel exactly zero.
  torch::optim::SGD optimizer(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-3));
  auto absent = mask.logical_not().view({16, 6, 1, 1}).expand({16, 6, 5, 5});
  for (int step = 0; step < 3; ++step) {
    optimizer.zero_grad();
    torch::conv2d(torch::randn({4, 6, 14, 14}), c3->dense_weight(), c3->bias).pow(2).sum().backward();
    optimizer.step();
    auto dense = c3->dense_weight();
    EXPECT_EQ(dense.masked_select(absent).abs().max().item<float>(), 0.0f);
    EXPECT_GT(dense.masked_select(absent.logical_not()).abs().min().item<float>(), 0.0f);
  }
}

TEST(LeNet5Model, RbfPrototypesAreFixedPlusMinusOneCodes) {
  LeNet5 net(Variant::kClassic);
  const auto prototypes = net->output_rbf->prototypes;
  EXPECT_EQ(prototypes.sizes(), (std::vector<int64_t>{10, 84}));
  EXPECT_TRUE(prototypes.abs().eq(1).all().item<bool>());
  EXPECT_FALSE(prototypes.requires_grad());
  // Every pair of digit codes differs.
  EXPECT_GT(torch::cdist(prototypes, prototypes).add(torch::eye(10) * 100).min().item<float>(), 0.0f);
  for (const auto& parameter : net->parameters()) EXPECT_FALSE(parameter.is_same(prototypes));
}

TEST(LeNet5Model, RbfScoreIsNegativeSquaredDistance) {
  lenet5::model::EuclideanRBF rbf(torch::tensor({{1.0f, -1.0f}, {-1.0f, -1.0f}}));
  auto scores = rbf->forward(torch::tensor({{1.0f, 1.0f}}));
  EXPECT_TRUE(scores.allclose(torch::tensor({{-4.0f, -8.0f}})));
}

// A few hundred real digits are memorised quickly when the network, loss and gradients are wired right.
TEST(LeNet5Model, OverfitsAFewHundredRealDigits) {
  LENET5_REQUIRE_MNIST();
  const std::string dir = lenet5::testing::mnist_dir();
  const auto data = lenet5::data::MnistDataset(dir, lenet5::data::Split::kTest).slice(0, 256);
  for (Variant variant : {Variant::kClassic, Variant::kModern}) {
    torch::manual_seed(0);
    LeNet5 net(variant);
    torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(3e-3));
    auto loss_of = [&] { return lenet5::model::classification_loss(net->forward(data.images()), data.targets(), variant); };
    const float initial = loss_of().item<float>();
    float final_loss = initial;
    for (int step = 0; step < 150; ++step) {
      optimizer.zero_grad();
      auto loss = loss_of();
      loss.backward();
      optimizer.step();
      final_loss = loss.item<float>();
    }
    EXPECT_LT(final_loss, initial / 20) << lenet5::model::variant_name(variant) << ": " << initial << " -> " << final_loss;
  }
}

}  // namespace

namespace {

TEST(LeNet5Model, FastForwardComputesWhatTheLayerByLayerForwardDoes) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    for (bool channels_last : {false, true}) {
      torch::manual_seed(5);
      LeNet5 net(variant);
      net->set_channels_last(channels_last);
      const auto images = torch::rand({12, 1, 28, 28});
      const auto targets = torch::randint(0, 10, {12});
      const auto fast = net->forward(images);
      const auto layered = net->forward_layers(images).back().output;
      const std::string what = lenet5::model::variant_name(variant) + (channels_last ? " channels-last" : " NCHW");
      EXPECT_TRUE(torch::allclose(fast, layered, 1e-5, 1e-6)) << what;
      auto fast_grads = torch::autograd::grad({lenet5::model::classification_loss(fast, targets, variant)}, net->parameters());
      auto layered_grads =
          torch::autograd::grad({lenet5::model::classification_loss(layered, targets, variant)}, net->parameters());
      for (size_t i = 0; i < fast_grads.size(); ++i) {
        EXPECT_TRUE(torch::allclose(fast_grads[i], layered_grads[i], 1e-4, 1e-6)) << what << ", parameter " << i;
      }
    }
  }
}

TEST(LeNet5Model, FullFieldConvolutionIsTheConvolution) {
  torch::manual_seed(6);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(16, 120, 5));
  const auto x = torch::randn({8, 16, 5, 5}, torch::requires_grad());
  const auto expected = conv->forward(x);
  const auto actual = lenet5::model::full_field_convolution(conv, x);
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(actual, expected, 1e-5, 1e-5));
  const auto g = torch::randn(expected.sizes());
  auto expected_grads = torch::autograd::grad({expected}, {x, conv->weight, conv->bias}, {g});
  auto actual_grads = torch::autograd::grad({actual}, {x, conv->weight, conv->bias}, {g});
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(actual_grads[i], expected_grads[i], 1e-4, 1e-5)) << i;
  // A convolution that does not cover its input is left to the convolution kernel.
  const auto larger = torch::randn({2, 16, 7, 7});
  EXPECT_TRUE(torch::equal(lenet5::model::full_field_convolution(conv, larger), conv->forward(larger)));
}

}  // namespace
