#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "lenet5/data/mnist_dataset.h"
#include "lenet5/model/classic.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/model/loss.h"
#include "lenet5/model/modern.h"
#include "lenet5/model/summary.h"
#include "test_files.h"

namespace {

using lenet5::model::LeNet5;
using lenet5::model::LeNet5Classic;
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
  const std::map<std::string, int64_t> expected = {{"C1", 156},   {"S2", 12},    {"C3", 1516}, {"S4", 32},
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

// Uniform in [-b, b]: every value within b, and the spread of a uniform (std b/sqrt(3)), so that zeros, a
// narrower rule or LibTorch's default (a wider bound for these fan-ins) all fail.
void expect_paper_uniform(const torch::Tensor& values, double bound, double std_tolerance, const std::string& what) {
  const double max_abs = values.abs().max().item<double>();
  const double std = values.to(torch::kFloat64).std().item<double>();
  const double uniform_std = bound / std::sqrt(3.0);
  EXPECT_LE(max_abs, bound * (1 + 1e-6)) << what;
  EXPECT_GT(max_abs, bound * 0.5) << what;
  EXPECT_NEAR(std / uniform_std, 1.0, std_tolerance) << what << ": std " << std << ", uniform's " << uniform_std;
}

TEST(LeNet5Model, ClassicInitialisationIsThePapersUniformRule) {
  torch::manual_seed(7);
  LeNet5 net(Variant::kClassic);
  auto p = net->named_parameters();
  expect_paper_uniform(p["C1.weight"], 2.4 / 25, 0.2, "C1.weight");
  expect_paper_uniform(p["C5.weight"], 2.4 / 400, 0.05, "C5.weight");
  expect_paper_uniform(p["F6.weight"], 2.4 / 120, 0.05, "F6.weight");
  expect_paper_uniform(p["C5.bias"], 2.4 / 400, 0.3, "C5.bias");
  expect_paper_uniform(p["F6.bias"], 2.4 / 120, 0.3, "F6.bias");
  // Subsampling units read 4 inputs; few values, so S2 and S4 together.
  expect_paper_uniform(torch::cat({p["S2.weight"], p["S4.weight"], p["S2.bias"], p["S4.bias"]}), 2.4 / 4, 0.4, "S2/S4");
  // C3: each map's fan-in is 25 times the number of S2 maps it reads; scaled to [-1, 1], all 1516 together.
  const auto& table = lenet5::model::c3_connection_table();
  std::vector<torch::Tensor> scaled;
  int64_t row = 0;
  for (size_t map = 0; map < table.size(); ++map) {
    const auto inputs = static_cast<int64_t>(table[map].size());
    const double bound = 2.4 / static_cast<double>(25 * inputs);
    scaled.push_back(p["C3.weight"].narrow(0, row, inputs).flatten() / bound);
    scaled.push_back(p["C3.bias"].narrow(0, static_cast<int64_t>(map), 1) / bound);
    row += inputs;
  }
  expect_paper_uniform(torch::cat(scaled), 1.0, 0.05, "C3 scaled by its fan-ins");
}

TEST(LeNet5Model, SquashingFunctionMapsOneToOne) {
  auto y = lenet5::model::scaled_tanh(torch::tensor({1.0f, -1.0f, 0.0f}));
  EXPECT_NEAR(y[0].item<float>(), 1.0f, 1e-3);
  EXPECT_NEAR(y[1].item<float>(), -1.0f, 1e-3);
  EXPECT_EQ(y[2].item<float>(), 0.0f);
}

TEST(LeNet5Model, C3AbsentConnectionsGetNoGradientAndStayZero) {
  torch::manual_seed(1);
  LeNet5Classic net;
  auto& c3 = net->C3;
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
  const auto prototypes = net->named_buffers()["output.prototypes"];
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
  const auto data = lenet5::data::MnistDataset(dir, lenet5::data::Split::kTest).slice(0, 128);
  for (Variant variant : {Variant::kClassic, Variant::kModern}) {
    torch::manual_seed(0);
    LeNet5 net(variant);
    torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(3e-3));
    auto loss_of = [&] { return net->loss(net->forward(data.images()), data.targets()); };
    const float initial = loss_of().item<float>();
    float final_loss = initial;
    for (int step = 0; step < 100; ++step) {
      optimizer.zero_grad();
      auto loss = loss_of();
      loss.backward();
      optimizer.step();
      final_loss = loss.item<float>();
    }
    EXPECT_LT(final_loss, initial / 20) << lenet5::model::variant_name(variant) << ": " << initial << " -> "
                                        << final_loss;
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
      auto fast_grads = torch::autograd::grad({net->loss(fast, targets)}, net->parameters());
      auto layered_grads = torch::autograd::grad({net->loss(layered, targets)}, net->parameters());
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

namespace {

using lenet5::model::LeNet5Impl;

std::vector<std::string> state_names(const torch::nn::Module& module) {
  std::vector<std::string> names = module.named_parameters().keys();
  for (const auto& buffer : module.named_buffers()) names.push_back(buffer.key());
  return names;
}

// Checkpoints and exported models name tensors by these keys: they are a file format.
TEST(LeNet5Model, StateDictKeysAreTheCheckpointFormat) {
  EXPECT_EQ(state_names(*LeNet5(Variant::kClassic)),
            (std::vector<std::string>{"C1.weight", "C1.bias", "S2.weight", "S2.bias", "C3.weight", "C3.bias",
                                      "S4.weight", "S4.bias", "C5.weight", "C5.bias", "F6.weight", "F6.bias",
                                      "C3.gather_index", "output.prototypes"}));
  EXPECT_EQ(state_names(*LeNet5(Variant::kModern)),
            (std::vector<std::string>{"C1.weight", "C1.bias", "C3.weight", "C3.bias", "C5.weight", "C5.bias",
                                      "F6.weight", "F6.bias", "output.weight", "output.bias"}));
}

// ---- The classic network against the paper's formulas, written out here with plain torch operations ----

torch::Tensor paper_squash(const torch::Tensor& a) { return 1.7159 * torch::tanh(a * (2.0 / 3.0)); }

torch::Tensor sums_of_2x2_blocks(const torch::Tensor& x) {
  return x.reshape({x.size(0), x.size(1), x.size(2) / 2, 2, x.size(3) / 2, 2}).sum({3, 5});
}

// Table I of the paper: row i marks the C3 maps (columns 0-15) that read S2 map i.
constexpr const char* kTableI[6] = {"X...XXX..XXXX.XX", "XX...XXX..XXXX.X", "XXX...XXX..X.XXX",
                                    ".XXX..XXXX..X.XX", "..XXX..XXXX.XX.X", "...XXX..XXXX.XXX"};

// C3's dense kernel: its packed kernels in order, map by map, each map's inputs in increasing order.
torch::Tensor c3_dense_kernel(const torch::Tensor& packed) {
  auto dense = torch::zeros({16, 6, 5, 5});
  int64_t next = 0;
  for (int64_t map = 0; map < 16; ++map) {
    for (int64_t input = 0; input < 6; ++input) {
      if (kTableI[input][map] == 'X') dense[map][input] = packed[next++];
    }
  }
  EXPECT_EQ(next, packed.size(0));
  return dense;
}

// The stylised digits as +1/-1 codes, read row by row.
torch::Tensor digit_codes() {
  std::vector<float> codes;
  for (const auto& bitmap : lenet5::model::rbf_digit_bitmaps()) {
    for (const char* row : bitmap) {
      for (int col = 0; col < 7; ++col) codes.push_back(row[col] == '#' ? 1.0f : -1.0f);
    }
  }
  return torch::tensor(codes).view({10, 84});
}

std::vector<torch::Tensor> paper_layers(LeNet5& net, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  auto p = net->named_parameters();
  const auto field = torch::constant_pad_nd(images, {2, 2, 2, 2}, 0.0) * 1.275 - 0.1;  // 32x32, -0.1 to 1.175
  std::vector<torch::Tensor> layers;
  layers.push_back(paper_squash(torch::conv2d(field, p["C1.weight"], p["C1.bias"])));
  auto subsample = [&](const torch::Tensor& x, const std::string& layer) {
    return paper_squash(sums_of_2x2_blocks(x) * p[layer + ".weight"].view({1, -1, 1, 1}) +
                        p[layer + ".bias"].view({1, -1, 1, 1}));
  };
  layers.push_back(subsample(layers.back(), "S2"));
  layers.push_back(paper_squash(torch::conv2d(layers.back(), c3_dense_kernel(p["C3.weight"]), p["C3.bias"])));
  layers.push_back(subsample(layers.back(), "S4"));
  layers.push_back(paper_squash(torch::conv2d(layers.back(), p["C5.weight"], p["C5.bias"])));
  layers.push_back(paper_squash(torch::linear(layers.back().flatten(1), p["F6.weight"], p["F6.bias"])));
  const auto difference = layers.back().unsqueeze(1) - digit_codes().unsqueeze(0);
  layers.push_back(-difference.pow(2).sum(2));  // scores: minus the squared distances
  return layers;
}

TEST(LeNet5Model, ClassicComputesThePapersFormulas) {
  for (bool channels_last : {false, true}) {
    torch::manual_seed(8);
    LeNet5 net(Variant::kClassic);
    net->set_channels_last(channels_last);
    const auto images = torch::rand({6, 1, 28, 28});
    const auto expected = paper_layers(net, images);
    const auto layers = net->forward_layers(images);
    ASSERT_EQ(layers.size(), expected.size());
    const std::string layout = channels_last ? "channels-last" : "NCHW";
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto actual = layers[i].output.view(expected[i].sizes());
      EXPECT_TRUE(torch::allclose(actual, expected[i], 1e-4, 1e-5))
          << layout << " " << layers[i].name << ": max difference " << (actual - expected[i]).abs().max().item<float>();
    }
    EXPECT_TRUE(torch::allclose(net->forward(images), expected.back(), 1e-4, 1e-5)) << layout << " forward";
  }
}

TEST(LeNet5Model, EachVariantTrainsWithItsOwnCriterion) {
  torch::manual_seed(15);
  const auto scores = -torch::rand({5, 10}) * 40 - 5;  // RBF-like scores: minus squared distances
  const auto targets = torch::randint(0, 10, {5});
  const auto classic = LeNet5(Variant::kClassic)->loss(scores, targets);
  const auto modern = LeNet5(Variant::kModern)->loss(scores, targets);
  // MAP: cross-entropy with an extra constant class of score -j.
  const auto with_rubbish = torch::cat({scores, torch::full({5, 1}, -lenet5::model::kMapRubbishScore)}, 1);
  EXPECT_TRUE(torch::allclose(classic, torch::nn::functional::cross_entropy(with_rubbish, targets)));
  EXPECT_TRUE(torch::allclose(modern, torch::nn::functional::cross_entropy(scores, targets)));
  EXPECT_FALSE(torch::allclose(classic, modern));
  EXPECT_TRUE(torch::equal(classic, lenet5::model::classification_loss(scores, targets, Variant::kClassic)));
  EXPECT_TRUE(torch::equal(modern, lenet5::model::classification_loss(scores, targets, Variant::kModern)));
}

// ---- clone() and reset() ----

std::map<std::string, torch::Tensor> snapshot(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> values;
  for (const auto& item : module.named_parameters()) values[item.key()] = item.value().detach().clone();
  for (const auto& item : module.named_buffers()) values[item.key()] = item.value().clone();
  return values;
}

void expect_state(const torch::nn::Module& module, const std::map<std::string, torch::Tensor>& expected,
                  const std::string& what) {
  EXPECT_EQ(snapshot(module).size(), expected.size()) << what;
  for (const auto& [name, value] : snapshot(module)) {
    ASSERT_TRUE(expected.count(name)) << what << ": " << name;
    EXPECT_TRUE(torch::equal(value, expected.at(name))) << what << ": " << name;
  }
}

TEST(LeNet5Model, CloneComputesTheSameWithTensorsOfItsOwn) {
  for (Variant variant : {Variant::kClassic, Variant::kModern}) {
    for (bool channels_last : {false, true}) {
      const std::string what = lenet5::model::variant_name(variant) + (channels_last ? " channels-last" : " NCHW");
      torch::manual_seed(9);
      LeNet5 net(variant);
      net->set_channels_last(channels_last);
      const auto original = snapshot(*net);
      LeNet5 copy = net.clone();
      EXPECT_EQ(copy->variant(), variant) << what;
      EXPECT_EQ(copy->channels_last(), channels_last) << what;
      expect_state(*copy, original, what + ", the clone");
      const auto images = torch::rand({4, 1, 28, 28});
      EXPECT_TRUE(torch::equal(copy->forward(images), net->forward(images))) << what;
      auto copied = copy->named_parameters();
      for (const auto& item : net->named_parameters()) {
        EXPECT_FALSE(item.value().is_alias_of(copied[item.key()])) << what << ": " << item.key();
        EXPECT_EQ(copied[item.key()].strides(), item.value().strides()) << what << ": " << item.key() << " layout";
      }
      // Training the clone leaves the original alone.
      torch::optim::SGD optimizer(copy->parameters(), torch::optim::SGDOptions(0.5));
      copy->loss(copy->forward(images), torch::randint(0, 10, {4})).backward();
      optimizer.step();
      {
        torch::NoGradGuard no_grad;
        for (auto& buffer : copy->buffers()) buffer.fill_(buffer.is_floating_point() ? 3 : 0);
      }
      EXPECT_FALSE(torch::equal(copy->forward(images), net->forward(images))) << what;
      expect_state(*net, original, what + ", the original after changing the clone");
    }
  }
}

TEST(LeNet5Model, ResetRunsAgainAndRebuildsTheSameWay) {
  for (Variant variant : {Variant::kClassic, Variant::kModern}) {
    const std::string what = lenet5::model::variant_name(variant);
    torch::manual_seed(10);
    LeNet5 net(variant);
    const auto first = snapshot(*net);
    net->set_channels_last(true);
    torch::manual_seed(11);
    ASSERT_NO_THROW(net->reset()) << what;
    EXPECT_EQ(state_names(*net), state_names(*LeNet5(variant))) << what;
    EXPECT_TRUE(net->channels_last()) << what;
    const auto drawn_again = snapshot(*net);
    EXPECT_FALSE(torch::equal(drawn_again.at("C1.weight"), first.at("C1.weight"))) << what;
    EXPECT_FALSE(torch::equal(drawn_again.at("F6.weight"), first.at("F6.weight"))) << what;
    // From the same seed, reset() draws exactly what the constructor drew.
    torch::manual_seed(10);
    net->reset();
    expect_state(*net, first, what + ", reset from the constructor's seed");
    EXPECT_EQ(net->forward(torch::rand({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10})) << what;
  }
}

TEST(LeNet5Model, ResetParametersDrawsEveryParameterAgainInPlace) {
  for (Variant variant : {Variant::kClassic, Variant::kModern}) {
    torch::manual_seed(12);
    LeNet5 net(variant);
    const auto before = snapshot(*net);
    const auto tensors = net->named_parameters();
    net->reset_parameters();
    for (const auto& item : net->named_parameters()) {
      const std::string what = lenet5::model::variant_name(variant) + " " + item.key();
      EXPECT_TRUE(item.value().is_same(tensors[item.key()])) << what;
      EXPECT_FALSE(torch::equal(item.value(), before.at(item.key()))) << what;
    }
  }
  torch::manual_seed(13);
  LeNet5 classic(Variant::kClassic);
  classic->reset_parameters();
  EXPECT_LE(classic->named_parameters()["C1.weight"].abs().max().item<float>(), 2.4f / 25);
  EXPECT_GT(classic->named_parameters()["C1.weight"].std().item<float>(), 0.8f * 2.4f / 25 / std::sqrt(3.0f));
}

TEST(LeNet5Model, PaperLayersResetAndCloneLikeLibTorchModules) {
  torch::manual_seed(14);
  lenet5::model::Subsampling s2(6);
  lenet5::model::SparseConv2d c3(lenet5::model::SparseConv2dOptions(6, lenet5::model::c3_connection_table(), 5));
  lenet5::model::EuclideanRBF rbf(lenet5::model::rbf_prototypes());
  std::vector<std::shared_ptr<torch::nn::Module>> layers = {s2.ptr(), c3.ptr(), rbf.ptr()};
  for (const auto& layer : layers) {
    const auto names = state_names(*layer);
    const auto copy = layer->clone();
    expect_state(*copy, snapshot(*layer), layer->name() + " clone");
    for (const auto& item : copy->named_parameters())
      EXPECT_FALSE(item.value().is_alias_of(layer->named_parameters()[item.key()]));
    for (const auto& item : copy->named_buffers())
      EXPECT_FALSE(item.value().is_alias_of(layer->named_buffers()[item.key()]));
  }
  const auto c3_before = c3->weight.clone();
  ASSERT_NO_THROW(s2->reset());
  ASSERT_NO_THROW(c3->reset());
  ASSERT_NO_THROW(rbf->reset());
  EXPECT_EQ(state_names(*c3), (std::vector<std::string>{"weight", "bias", "gather_index"}));
  EXPECT_FALSE(torch::equal(c3->weight, c3_before));
  EXPECT_TRUE(torch::equal(rbf->prototypes, lenet5::model::rbf_prototypes()));
  EXPECT_EQ(c3->dense_weight().sizes(), (std::vector<int64_t>{16, 6, 5, 5}));
  // A table naming a map that does not exist, or one map twice, is refused.
  EXPECT_THROW(lenet5::model::SparseConv2d(lenet5::model::SparseConv2dOptions(2, {{0, 2}}, 3)), c10::Error);
  EXPECT_THROW(lenet5::model::SparseConv2d(lenet5::model::SparseConv2dOptions(2, {{1, 1}}, 3)), c10::Error);
}

TEST(LeNet5Model, DenseTensorsAreTheWeightsAnExporterWrites) {
  LeNet5 classic(Variant::kClassic);
  std::vector<std::string> names;
  for (const auto& tensor : classic->dense_tensors()) {
    names.push_back(tensor.name);
    EXPECT_EQ(tensor.trainable, tensor.name != "output.prototypes") << tensor.name;
    if (tensor.name == "C3.weight") {
      EXPECT_TRUE(torch::equal(tensor.value, c3_dense_kernel(classic->named_parameters()["C3.weight"])));
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"C1.weight", "C1.bias", "S2.weight", "S2.bias", "C3.weight", "C3.bias",
                                             "S4.weight", "S4.bias", "C5.weight", "C5.bias", "F6.weight", "F6.bias",
                                             "output.prototypes"}));
  LeNet5 modern(Variant::kModern);
  names.clear();
  for (const auto& tensor : modern->dense_tensors()) names.push_back(tensor.name);
  EXPECT_EQ(names, modern->named_parameters().keys());
}

}  // namespace
