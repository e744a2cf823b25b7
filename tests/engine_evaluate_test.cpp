// engine::evaluate: a model whose scores are not finite is an error naming it, not an accuracy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lenet5/engine/evaluate.h"

namespace {

using ::testing::HasSubstr;

lenet5::data::MnistDataset tiny_dataset(int64_t n) {
  torch::manual_seed(3);
  return lenet5::data::MnistDataset(torch::rand({n, 1, 28, 28}), torch::arange(n, torch::kInt64).remainder(10));
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(EngineEvaluate, NonFiniteScoresAreAnErrorNamingTheModel) {
  const auto data = tiny_dataset(50);
  lenet5::engine::EvaluateOptions options;
  options.batch_size = 16;
  options.model_name = "runs/x/best.pt";
  // NaN for every image, infinity for a few: both counted.
  const auto nan_scores = [](const torch::Tensor& x) { return torch::full({x.size(0), 10}, NAN); };
  EXPECT_EQ(error_of([&] { lenet5::engine::evaluate(nan_scores, data, lenet5::model::Variant::kModern, options); }),
            "runs/x/best.pt: the model returns non-finite scores (NaN or infinity) for 50 of 50 images");
  const auto some_infinite = [](const torch::Tensor& x) {
    auto scores = torch::zeros({x.size(0), 10});
    scores.index_put_({x.flatten(1).select(1, 0) > 0.9, 3}, INFINITY);  // pixel 0 brighter than 0.9
    return scores;
  };
  const int64_t bright = (data.images().flatten(1).select(1, 0) > 0.9).sum().item<int64_t>();
  ASSERT_GT(bright, 0);
  EXPECT_THAT(
      error_of([&] { lenet5::engine::evaluate(some_infinite, data, lenet5::model::Variant::kModern, options); }),
      HasSubstr("for " + std::to_string(bright) + " of 50 images"));
}

TEST(EngineEvaluate, ModelWithNanWeightsIsAnError) {
  const auto data = tiny_dataset(20);
  for (auto variant : {lenet5::model::Variant::kModern, lenet5::model::Variant::kClassic}) {
    lenet5::model::LeNet5 net(variant);
    {
      torch::NoGradGuard no_grad;
      net->named_parameters()["F6.weight"][0][0] = NAN;
    }
    lenet5::engine::EvaluateOptions options;
    options.model_name = "nan.pt";
    EXPECT_THAT(error_of([&] { lenet5::engine::evaluate(net, data, options); }),
                HasSubstr("nan.pt: the model returns non-finite scores (NaN or infinity) for 20 of 20 images"));
  }
  lenet5::model::LeNet5 healthy(lenet5::model::Variant::kModern);
  EXPECT_NO_THROW(lenet5::engine::evaluate(healthy, data));
}

}  // namespace
