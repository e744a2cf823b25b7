#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "lenet5/engine/flat_adamw.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/model/loss.h"

namespace {

using lenet5::engine::FlatAdamW;
using lenet5::model::LeNet5;
using lenet5::model::Variant;

struct Batch {
  torch::Tensor images, targets;
};

Batch fixed_batch(int64_t seed) {
  torch::manual_seed(seed);
  return {torch::rand({8, 1, 28, 28}), torch::randint(0, 10, {8})};
}

LeNet5 fresh_network(bool channels_last) {
  torch::manual_seed(42);
  LeNet5 net(Variant::kModern);
  net->set_channels_last(channels_last);
  return net;
}

void train_steps(LeNet5& net, torch::optim::Optimizer& optimizer, int64_t first, int64_t count,
                 torch::Dtype dtype = torch::kFloat32) {
  for (int64_t i = first; i < first + count; ++i) {
    const auto batch = fixed_batch(i);
    optimizer.zero_grad();
    lenet5::model::classification_loss(net->forward(batch.images.to(dtype)), batch.targets, Variant::kModern)
        .backward();
    optimizer.step();
  }
}

torch::OrderedDict<std::string, torch::Tensor> snapshot_parameters(LeNet5& net) {
  torch::OrderedDict<std::string, torch::Tensor> values;
  for (const auto& item : net->named_parameters()) values.insert(item.key(), item.value().detach().clone());
  return values;
}

void expect_same_parameters(LeNet5& actual, LeNet5& expected, const std::string& what) {
  const auto a = actual->named_parameters();
  const auto e = expected->named_parameters();
  for (const auto& item : e) {
    EXPECT_TRUE(torch::allclose(a[item.key()], item.value(), 1e-5, 1e-6)) << what << ": " << item.key();
  }
}

TEST(EngineFlatAdamW, FollowsTorchAdamWStepForStep) {
  for (bool channels_last : {false, true}) {
    auto reference = fresh_network(channels_last);
    auto flat = fresh_network(channels_last);
    const auto options = torch::optim::AdamWOptions(3e-3).weight_decay(0.05);
    torch::optim::AdamW reference_optimizer(reference->parameters(), options);
    FlatAdamW flat_optimizer(flat->parameters(), options);
    ASSERT_TRUE(flat_optimizer.is_flat());
    train_steps(reference, reference_optimizer, 0, 6);
    train_steps(flat, flat_optimizer, 0, 6);
    expect_same_parameters(flat, reference, channels_last ? "channels-last" : "NCHW");
    EXPECT_FALSE(torch::equal(flat->named_parameters()["C1.weight"],
                              fresh_network(channels_last)->named_parameters()["C1.weight"]))
        << "nothing was trained";
  }
}

TEST(EngineFlatAdamW, WholeBufferOperationsFollowTorchAdamWToo) {
  // Float64 parameters take the device-independent path (whole-buffer tensor operations), as CUDA does.
  auto reference = fresh_network(false);
  auto flat = fresh_network(false);
  reference->to(torch::kFloat64);
  flat->to(torch::kFloat64);
  const auto options = torch::optim::AdamWOptions(3e-3).weight_decay(0.05);
  torch::optim::AdamW reference_optimizer(reference->parameters(), options);
  FlatAdamW flat_optimizer(flat->parameters(), options);
  ASSERT_TRUE(flat_optimizer.is_flat());
  train_steps(reference, reference_optimizer, 0, 4, torch::kFloat64);
  train_steps(flat, flat_optimizer, 0, 4, torch::kFloat64);
  expect_same_parameters(flat, reference, "float64");
}

TEST(EngineFlatAdamW, TheModuleKeepsItsParametersAndLayout) {
  auto net = fresh_network(true);
  const auto c3 = net->named_parameters()["C3.weight"];
  const auto before = c3.clone();
  FlatAdamW optimizer(net->parameters(), torch::optim::AdamWOptions(1e-3));
  EXPECT_TRUE(c3.is_same(net->named_parameters()["C3.weight"]));
  EXPECT_TRUE(torch::equal(c3, before));
  EXPECT_TRUE(c3.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(c3.requires_grad());
}

TEST(EngineFlatAdamW, SavedStateResumesExactlyLikeTorchAdamW) {
  const auto options = torch::optim::AdamWOptions(2e-3).weight_decay(0.01);
  // Reference: AdamW for 3 steps, saved, restored into a new AdamW, 3 more steps.
  auto reference = fresh_network(true);
  torch::optim::AdamW reference_optimizer(reference->parameters(), options);
  train_steps(reference, reference_optimizer, 0, 3);
  std::stringstream reference_state;
  {
    torch::serialize::OutputArchive archive;
    reference_optimizer.save(archive);
    archive.save_to(reference_state);
  }
  // Flat: 3 steps, state saved in AdamW's format, loaded by a new FlatAdamW, 3 more steps.
  auto flat = fresh_network(true);
  FlatAdamW flat_optimizer(flat->parameters(), options);
  train_steps(flat, flat_optimizer, 0, 3);
  std::stringstream flat_state;
  {
    torch::serialize::OutputArchive archive;
    flat_optimizer.save(archive);
    archive.save_to(flat_state);
  }
  FlatAdamW resumed(flat->parameters(), options);
  torch::serialize::InputArchive archive;
  archive.load_from(flat_state);
  resumed.load(archive);
  ASSERT_TRUE(resumed.is_flat());
  train_steps(reference, reference_optimizer, 3, 3);
  train_steps(flat, resumed, 3, 3);
  expect_same_parameters(flat, reference, "after resume");

  // And the state torch's AdamW saved loads into FlatAdamW.
  auto from_torch = fresh_network(true);
  FlatAdamW loads_torch_state(from_torch->parameters(), options);
  torch::serialize::InputArchive torch_archive;
  torch_archive.load_from(reference_state);
  EXPECT_NO_THROW(loads_torch_state.load(torch_archive));
  EXPECT_TRUE(loads_torch_state.is_flat());
}

// A layout change after building the optimiser gives C3 a new storage the flat update never reaches: step()
// refuses, naming the parameter, rather than leave C3 untrained.
TEST(EngineFlatAdamW, ParameterCutOffFromTheBufferIsAnError) {
  const auto error_after_layout_change = [](bool named) {
    auto net = fresh_network(false);
    const torch::optim::AdamWOptions options(1e-3);
    auto optimizer = named ? std::make_unique<FlatAdamW>(net->named_parameters(), options)
                           : std::make_unique<FlatAdamW>(net->parameters(), options);
    train_steps(net, *optimizer, 0, 1);
    net->set_channels_last(true);
    lenet5::engine::clear_gradients(*optimizer);  // the old gradients keep the old layout
    try {
      train_steps(net, *optimizer, 1, 1);
    } catch (const std::logic_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string named_error = error_after_layout_change(true);
  EXPECT_NE(named_error.find("FlatAdamW: parameter C3.weight no longer uses the optimiser's buffer"), std::string::npos)
      << named_error;
  EXPECT_EQ(named_error.find('\n'), std::string::npos) << named_error;
  const std::string unnamed_error = error_after_layout_change(false);
  EXPECT_NE(unnamed_error.find("FlatAdamW: parameter #2 [16, 6, 5, 5] no longer uses"), std::string::npos)
      << unnamed_error;

  // Built after the layout change, it trains every parameter.
  auto net = fresh_network(false);
  net->set_channels_last(true);
  FlatAdamW rebuilt(net->named_parameters(), torch::optim::AdamWOptions(1e-3));
  const auto before = snapshot_parameters(net);
  EXPECT_NO_THROW(train_steps(net, rebuilt, 0, 1));
  for (const auto& item : net->named_parameters()) {
    EXPECT_FALSE(torch::equal(item.value(), before[item.key()])) << item.key() << " was not trained";
  }
}

TEST(EngineFlatAdamW, AmsgradFallsBackToTorchAdamW) {
  auto reference = fresh_network(false);
  auto flat = fresh_network(false);
  const auto options = torch::optim::AdamWOptions(1e-3).amsgrad(true);
  torch::optim::AdamW reference_optimizer(reference->parameters(), options);
  FlatAdamW flat_optimizer(flat->parameters(), options);
  EXPECT_FALSE(flat_optimizer.is_flat());
  train_steps(reference, reference_optimizer, 0, 3);
  train_steps(flat, flat_optimizer, 0, 3);
  expect_same_parameters(flat, reference, "amsgrad");
}

}  // namespace
