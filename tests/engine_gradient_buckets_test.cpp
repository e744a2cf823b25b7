// The bucketed all-reduce of data-parallel training, against a stand-in group of one rank that records what is
// sent and when: the buckets cover the flat gradient buffer, with small buckets the first leaves while backward
// is still in the convolutions, and the optimiser gets the weighted gradients (zeros from a rank without images).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "lenet5/engine/collective.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/engine/gradient_buckets.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/model/loss.h"

namespace {

using lenet5::engine::Collective;
using lenet5::engine::FlatAdamW;
using lenet5::engine::GradientBuckets;
using lenet5::model::LeNet5;
using lenet5::model::Variant;

// One rank alone: a sum over the group is the tensor itself. Records each all-reduce's size and whether it had
// been waited for.
class RecordingGroup : public Collective {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(torch::Tensor&) override { ++sync_all_reduces; }
  std::unique_ptr<Pending> start_all_reduce_sum(const torch::Tensor& tensor) override {
    sizes.push_back(tensor.numel());
    waited.push_back(false);
    return std::make_unique<Waiter>(waited, waited.size() - 1);
  }
  void broadcast(torch::Tensor&, int) override {}
  Statistics statistics() const override { return {}; }
  std::string share_from_rank0(const std::string& text) override { return text; }

  std::vector<int64_t> sizes;
  std::vector<bool> waited;
  int sync_all_reduces = 0;

 private:
  class Waiter : public Pending {
   public:
    Waiter(std::vector<bool>& waited, size_t index) : waited_(waited), index_(index) {}
    void wait() override { waited_[index_] = true; }

   private:
    std::vector<bool>& waited_;
    size_t index_;
  };
};

struct Setup {
  LeNet5 net;
  std::unique_ptr<FlatAdamW> optimizer;
};

Setup flat_network(Variant variant) {
  torch::manual_seed(3);
  Setup s{LeNet5(variant), nullptr};
  s.optimizer = std::make_unique<FlatAdamW>(s.net->named_parameters(), torch::optim::AdamWOptions(1e-3));
  return s;
}

torch::Tensor loss_of(LeNet5& net, Variant variant) {
  torch::manual_seed(7);
  return lenet5::model::classification_loss(net->forward(torch::rand({16, 1, 28, 28})), torch::randint(0, 10, {16}),
                                            variant);
}

TEST(EngineGradientBuckets, LeNet5FitsOneBucketByDefault) {
  auto s = flat_network(Variant::kModern);
  RecordingGroup group;
  GradientBuckets buckets(group, *s.optimizer);
  ASSERT_EQ(buckets.buckets().size(), 1U);
  EXPECT_EQ(buckets.buckets()[0].begin, 0);
  EXPECT_EQ(buckets.buckets()[0].end, s.optimizer->gradient_buffer().numel());
}

TEST(EngineGradientBuckets, SmallBucketsCoverTheBufferLastLayersFirst) {
  for (auto variant : {Variant::kModern, Variant::kClassic}) {
    auto s = flat_network(variant);
    RecordingGroup group;
    GradientBuckets buckets(group, *s.optimizer, 4096);
    const auto& list = buckets.buckets();
    ASSERT_GE(list.size(), 3U);
    EXPECT_EQ(list.front().last, s.net->parameters().size() - 1);  // the output layer's bias goes first
    EXPECT_EQ(list.front().end, s.optimizer->gradient_buffer().numel());
    EXPECT_EQ(list.back().first, 0U);
    EXPECT_EQ(list.back().begin, 0);
    for (size_t b = 1; b < list.size(); ++b) {
      EXPECT_EQ(list[b].last + 1, list[b - 1].first);
      EXPECT_EQ(list[b].end, list[b - 1].begin);
    }
  }
}

TEST(EngineGradientBuckets, TheFirstBucketLeavesBeforeBackwardReachesC1) {
  auto s = flat_network(Variant::kModern);
  RecordingGroup group;
  GradientBuckets buckets(group, *s.optimizer, 64 * 1024);  // C5 to the output, then C1 and C3
  size_t sent_before_c1 = 0;
  auto c1_weight = s.net->parameters().front();
  c1_weight.register_hook([&](const torch::Tensor&) { sent_before_c1 = group.sizes.size(); });
  lenet5::engine::clear_gradients(*s.optimizer);
  buckets.begin_step(1);
  loss_of(s.net, Variant::kModern).backward();
  EXPECT_GE(sent_before_c1, 1U);
  EXPECT_EQ(group.sizes.size(), buckets.buckets().size());  // C1's gradient closed the last bucket
  EXPECT_FALSE(group.waited.front()) << "nothing waits before finish_step";
  buckets.finish_step();
  for (bool w : group.waited) EXPECT_TRUE(w);
  EXPECT_EQ(group.sync_all_reduces, 0);
}

TEST(EngineGradientBuckets, TheOptimiserGetsTheWeightedGradients) {
  auto s = flat_network(Variant::kModern);
  loss_of(s.net, Variant::kModern).backward();
  std::vector<torch::Tensor> plain;
  for (const auto& p : s.net->parameters()) plain.push_back(p.grad().clone());

  RecordingGroup group;
  GradientBuckets buckets(group, *s.optimizer, 64 * 1024);
  lenet5::engine::clear_gradients(*s.optimizer);
  buckets.begin_step(0.25);
  loss_of(s.net, Variant::kModern).backward();
  buckets.finish_step();
  const auto parameters = s.net->parameters();
  const auto buffer = s.optimizer->gradient_buffer();
  for (size_t i = 0; i < parameters.size(); ++i) {
    EXPECT_TRUE(parameters[i].grad().is_alias_of(buffer)) << i;
    EXPECT_TRUE(torch::allclose(parameters[i].grad(), plain[i] * 0.25)) << i;
  }

  // A rank without images this step still sends every bucket, with zeros.
  group.sizes.clear();
  lenet5::engine::clear_gradients(*s.optimizer);
  buckets.begin_step(0);
  buckets.finish_step();
  EXPECT_EQ(group.sizes.size(), buckets.buckets().size());
  EXPECT_EQ(buffer.abs().sum().item<float>(), 0.0F);
}

}  // namespace
