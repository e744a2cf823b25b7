#include <gtest/gtest.h>

#include <limits>

#include "lenet5/model/lenet5.h"
#include "lenet5/model/max_pool.h"

namespace {

using lenet5::model::max_pool_2x2;
using lenet5::model::max_pool_2x2_has_fast_path;

struct PoolingRun {
  torch::Tensor output;
  torch::Tensor input_grad;
};

// Pools `input` (a copy that requires grad) and back-propagates `output_grad` through it.
template <typename Pool>
PoolingRun pool_and_backward(const torch::Tensor& input, const torch::Tensor& output_grad, Pool pool) {
  auto x = input.detach().clone().requires_grad_(true);
  auto y = pool(x);
  y.backward(output_grad);
  return {y.detach(), x.grad()};
}

void expect_same_as_aten(const torch::Tensor& input, const std::string& what) {
  ASSERT_TRUE(max_pool_2x2_has_fast_path(input)) << what;
  const auto reference_out = torch::max_pool2d(input, 2);
  const auto output_grad = torch::randn(reference_out.sizes());
  const auto expected =
      pool_and_backward(input, output_grad, [](const torch::Tensor& x) { return torch::max_pool2d(x, 2); });
  const auto actual = pool_and_backward(input, output_grad, max_pool_2x2);
  EXPECT_TRUE(torch::equal(actual.output, expected.output)) << what << ": forward differs";
  EXPECT_TRUE(torch::equal(actual.input_grad, expected.input_grad)) << what << ": gradient differs";
  EXPECT_EQ(actual.output.is_contiguous(torch::MemoryFormat::ChannelsLast),
            input.is_contiguous(torch::MemoryFormat::ChannelsLast))
      << what << ": layout not kept";
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(max_pool_2x2(input), expected.output)) << what << ": forward without grad differs";
}

TEST(ModelMaxPool, MatchesAtenOnLeNetShapesInBothLayouts) {
  torch::manual_seed(0);
  for (auto sizes : {std::vector<int64_t>{8, 6, 28, 28}, std::vector<int64_t>{8, 16, 10, 10}}) {
    const auto nchw = torch::randn(sizes);
    expect_same_as_aten(nchw, "NCHW " + std::to_string(sizes[1]) + " channels");
    expect_same_as_aten(nchw.contiguous(torch::MemoryFormat::ChannelsLast),
                        "NHWC " + std::to_string(sizes[1]) + " channels");
  }
}

TEST(ModelMaxPool, TiesGoToTheFirstMaximumAsInAten) {
  torch::manual_seed(1);
  // After ReLU most windows hold several zeros; rounding makes equal positive values common too.
  for (int64_t channels : {5, 6, 16}) {  // any count, and LeNet-5's two (their own compiled loops)
    const auto input = torch::relu(torch::randn({4, channels, 12, 12})).mul(2).round();
    const auto what = " with ties, " + std::to_string(channels) + " channels";
    expect_same_as_aten(input, "NCHW" + what);
    expect_same_as_aten(input.contiguous(torch::MemoryFormat::ChannelsLast), "NHWC" + what);
  }
}

TEST(ModelMaxPool, OddSizesDropTheLastRowAndColumnAsInAten) {
  torch::manual_seed(2);
  const auto input = torch::randn({2, 3, 7, 9});
  expect_same_as_aten(input, "NCHW 7x9");
  expect_same_as_aten(input.contiguous(torch::MemoryFormat::ChannelsLast), "NHWC 7x9");
}

TEST(ModelMaxPool, NaNPropagatesAsInAten) {
  auto input = torch::randn({1, 2, 4, 4});
  input[0][0][1][1] = std::numeric_limits<float>::quiet_NaN();
  input[0][1][2][3] = -std::numeric_limits<float>::infinity();
  const auto expected = torch::max_pool2d(input, 2);
  const auto actual = max_pool_2x2(input);
  EXPECT_TRUE(torch::isnan(actual[0][0][0][0]).item<bool>());
  EXPECT_TRUE(torch::equal(torch::isnan(actual), torch::isnan(expected)));
  EXPECT_TRUE(torch::equal(actual.nan_to_num(0), expected.nan_to_num(0)));
}

// A window whose maximum is NaN sends its gradient to the (last) NaN, as ATen does; the other windows of its
// row, and the rows without a NaN, route as usual.
TEST(ModelMaxPool, NaNWindowsRouteTheGradientAsInAten) {
  torch::manual_seed(3);
  for (int64_t channels : {1, 6, 16}) {
    auto input = torch::randn({2, channels, 8, 8});
    input[0][0][1][1] = std::numeric_limits<float>::quiet_NaN();
    input[0][channels - 1][2][3] = std::numeric_limits<float>::quiet_NaN();
    input[0][channels - 1][3][3] = std::numeric_limits<float>::quiet_NaN();
    input[1][0][5][4] = std::numeric_limits<float>::quiet_NaN();
    for (const auto& layout : {input, input.contiguous(torch::MemoryFormat::ChannelsLast)}) {
      const auto output_grad = torch::randn({2, channels, 4, 4});
      const auto expected =
          pool_and_backward(layout, output_grad, [](const torch::Tensor& x) { return torch::max_pool2d(x, 2); });
      const auto actual = pool_and_backward(layout, output_grad, max_pool_2x2);
      EXPECT_TRUE(torch::equal(actual.input_grad, expected.input_grad)) << channels << " channels";
    }
  }
}

TEST(ModelMaxPool, OtherInputsFallBackToAten) {
  const auto doubles = torch::randn({2, 3, 6, 6}, torch::kFloat64);
  EXPECT_FALSE(max_pool_2x2_has_fast_path(doubles));
  EXPECT_TRUE(torch::equal(max_pool_2x2(doubles), torch::max_pool2d(doubles, 2)));
  const auto strided = torch::randn({2, 3, 12, 12}).slice(3, 0, 12, 2);  // neither NCHW nor NHWC contiguous
  EXPECT_FALSE(max_pool_2x2_has_fast_path(strided));
  EXPECT_TRUE(torch::equal(max_pool_2x2(strided), torch::max_pool2d(strided, 2)));
}

TEST(ModelMaxPool, ChannelsLastNetworkComputesTheSameScoresAndGradients) {
  for (auto variant : {lenet5::model::Variant::kModern, lenet5::model::Variant::kClassic}) {
    torch::manual_seed(3);
    lenet5::model::LeNet5 reference(variant);
    torch::manual_seed(3);
    lenet5::model::LeNet5 channels_last(variant);
    channels_last->set_channels_last(true);
    EXPECT_TRUE(channels_last->named_parameters()["C1.weight"].is_contiguous(torch::MemoryFormat::ChannelsLast));
    const auto images = torch::rand({16, 1, 28, 28});
    const auto targets = torch::randint(0, 10, {16});
    auto expected = reference->forward(images);
    auto actual = channels_last->forward(images);
    EXPECT_TRUE(torch::allclose(actual, expected, 1e-4, 1e-5)) << lenet5::model::variant_name(variant);
    torch::nn::functional::cross_entropy(expected, targets).backward();
    torch::nn::functional::cross_entropy(actual, targets).backward();
    const auto expected_grads = reference->parameters();
    const auto actual_grads = channels_last->parameters();
    for (size_t i = 0; i < expected_grads.size(); ++i) {
      EXPECT_TRUE(torch::allclose(actual_grads[i].grad(), expected_grads[i].grad(), 1e-3, 1e-5))
          << lenet5::model::variant_name(variant) << " parameter " << i;
    }
  }
}

}  // namespace
