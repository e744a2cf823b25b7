// model::conv5x5 against torch::conv2d: output and every gradient, for C1 (padding 2, one input channel) and C3,
// in both layouts, with odd batch sizes; and the cases it leaves to torch::conv2d.
#include <gtest/gtest.h>

#include "lenet5/model/conv5x5.h"

namespace {

using lenet5::model::conv5x5;
using lenet5::model::conv5x5_has_fast_path;

struct Run {
  torch::Tensor out, grad_x, grad_weight, grad_bias;
};

template <typename Conv>
Run run(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& grad_out,
        Conv conv) {
  auto xi = x.detach().clone().requires_grad_(true), wi = weight.detach().clone().requires_grad_(true);
  auto bi = bias.detach().clone().requires_grad_(true);
  auto out = conv(xi, wi, bi);
  out.backward(grad_out);
  return {out.detach(), xi.grad(), wi.grad(), bi.grad()};
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  EXPECT_LE((actual - expected).abs().max().item<double>(), 1e-5 * scale) << what;
}

void expect_same_as_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                           int64_t padding, const std::string& what) {
  ASSERT_TRUE(conv5x5_has_fast_path(x, weight, bias)) << what;
  const auto reference = torch::conv2d(x, weight, bias, 1, padding);
  const auto grad_out = torch::randn(reference.sizes());
  const auto expected =
      run(x, weight, bias, grad_out, [&](auto a, auto b, auto c) { return torch::conv2d(a, b, c, 1, padding); });
  const auto actual = run(x, weight, bias, grad_out, [&](auto a, auto b, auto c) { return conv5x5(a, b, c, padding); });
  expect_close(actual.out, expected.out, what + ": output");
  expect_close(actual.grad_x, expected.grad_x, what + ": input gradient");
  expect_close(actual.grad_weight, expected.grad_weight, what + ": weight gradient");
  expect_close(actual.grad_bias, expected.grad_bias, what + ": bias gradient");
  EXPECT_TRUE(actual.out.is_contiguous(torch::MemoryFormat::ChannelsLast)) << what;
  torch::NoGradGuard no_grad;
  expect_close(conv5x5(x, weight, bias, padding), expected.out, what + ": output without grad");
}

TEST(ModelConv5x5, MatchesConv2dOnLeNetsConvolutions) {
  torch::manual_seed(0);
  at::set_num_threads(1);
  for (int64_t batch : {1, 3, 64}) {
    const auto images = torch::randn({batch, 1, 28, 28});
    const auto c1 = torch::randn({6, 1, 5, 5}) * 0.2, c1_bias = torch::randn({6});
    expect_same_as_conv2d(images, c1, c1_bias, 2, "C1, batch " + std::to_string(batch));
    const auto maps = torch::randn({batch, 6, 14, 14});
    const auto c3 = (torch::randn({16, 6, 5, 5}) * 0.1).contiguous(torch::MemoryFormat::ChannelsLast);
    const auto c3_bias = torch::randn({16});
    expect_same_as_conv2d(maps, c3, c3_bias, 0, "C3 NCHW, batch " + std::to_string(batch));
    expect_same_as_conv2d(maps.contiguous(torch::MemoryFormat::ChannelsLast), c3, c3_bias, 0,
                          "C3 NHWC, batch " + std::to_string(batch));
  }
}

TEST(ModelConv5x5, LeavesWhatItHasNoKernelsForToConv2d) {
  at::set_num_threads(1);
  const auto x = torch::randn({2, 6, 14, 14}), w = torch::randn({16, 6, 5, 5}), b = torch::randn({16});
  EXPECT_TRUE(conv5x5_has_fast_path(x, w, b));
  EXPECT_FALSE(conv5x5_has_fast_path(x.to(torch::kDouble), w.to(torch::kDouble), b.to(torch::kDouble)));
  EXPECT_FALSE(conv5x5_has_fast_path(x, torch::randn({16, 6, 3, 3}), b));
  EXPECT_FALSE(conv5x5_has_fast_path(torch::randn({2, 20, 14, 14}), torch::randn({16, 20, 5, 5}), b));
  const auto wide = torch::randn({2, 6, 14, 14}), many = torch::randn({32, 6, 5, 5}), many_bias = torch::randn({32});
  EXPECT_FALSE(conv5x5_has_fast_path(wide, many, many_bias));
  EXPECT_TRUE(torch::allclose(conv5x5(wide, many, many_bias), torch::conv2d(wide, many, many_bias), 1e-5, 1e-5));
}

TEST(ModelConv5x5, MatchesConv2dOnTwoThreadsTheSameEveryRun) {
  torch::manual_seed(2);
  at::set_num_threads(2);
  const auto maps = torch::randn({64, 6, 14, 14}).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto weight = torch::randn({16, 6, 5, 5}) * 0.1, bias = torch::randn({16});
  expect_same_as_conv2d(maps, weight, bias, 0, "C3 on 2 threads");
  // The batch's shares are fixed, so their weight-gradient sums add up the same way whichever thread ran them.
  const auto grad_out = torch::randn({64, 16, 10, 10});
  const auto first = run(maps, weight, bias, grad_out, [](auto a, auto b, auto c) { return conv5x5(a, b, c); });
  for (int i = 0; i < 5; ++i) {
    const auto again = run(maps, weight, bias, grad_out, [](auto a, auto b, auto c) { return conv5x5(a, b, c); });
    EXPECT_TRUE(torch::equal(again.grad_weight, first.grad_weight)) << "run " << i;
    EXPECT_TRUE(torch::equal(again.grad_bias, first.grad_bias)) << "run " << i;
  }
  at::set_num_threads(1);
}

}  // namespace
