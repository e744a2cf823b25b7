// native::conv5x5_*: the portable loops against the definitions written out here, and every instruction set
// this CPU runs against the portable loops (to float rounding: the vector code sums in another order), for
// LeNet-5's C1 and C3 and for shapes whose rows and channels do not fill the kernels' tiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "lenet5/native/convolution.h"

namespace {

using lenet5::native::Conv5x5Shape;
using lenet5::native::Isa;

std::vector<float> random_values(size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> values(count);
  for (auto& v : values) v = uniform(rng);
  return values;
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  float scale = 1;
  for (float e : expected) scale = std::max(scale, std::abs(e));
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], 1e-5f * scale) << what << " [" << i << "]";
}

struct Case {
  Conv5x5Shape shape;
  std::vector<float> in, weight, bias, grad_out;
  size_t outputs() const {
    return static_cast<size_t>(shape.batch * shape.out_height() * shape.out_width() * shape.out_channels);
  }
};

Case random_case(Conv5x5Shape shape, unsigned seed) {
  std::mt19937 rng(seed);
  Case c{shape, {}, {}, {}, {}};
  c.in = random_values(static_cast<size_t>(shape.batch * shape.height * shape.width * shape.in_channels), rng);
  c.weight = random_values(static_cast<size_t>(shape.out_channels * 25 * shape.in_channels), rng);
  c.bias = random_values(static_cast<size_t>(shape.out_channels), rng);
  c.grad_out = random_values(c.outputs(), rng);
  return c;
}

// LeNet-5's C1 (after its padding of 2), C3, and odd shapes: 1 image, rows of 7 and 3 outputs, 3 and 10 channels.
const Conv5x5Shape kShapes[] = {{3, 32, 32, 1, 6}, {5, 14, 14, 6, 16}, {1, 9, 11, 3, 10}, {2, 7, 8, 16, 3}};

float input_at(const Case& c, int64_t n, int64_t y, int64_t x, int64_t ch) {
  return c.in[static_cast<size_t>(((n * c.shape.height + y) * c.shape.width + x) * c.shape.in_channels + ch)];
}
float weight_at(const Case& c, int64_t o, int64_t ky, int64_t kx, int64_t ch) {
  return c.weight[static_cast<size_t>(((o * 5 + ky) * 5 + kx) * c.shape.in_channels + ch)];
}
float grad_at(const Case& c, int64_t n, int64_t y, int64_t x, int64_t o) {
  const auto& s = c.shape;
  return c.grad_out[static_cast<size_t>(((n * s.out_height() + y) * s.out_width() + x) * s.out_channels + o)];
}

TEST(NativeConvolution, ThePortableInputGradientIsTheSumOverTheOutputsEachInputFed) {
  for (const auto& shape : kShapes) {
    const Case c = random_case(shape, 1);
    std::vector<float> expected(c.in.size(), 0.0f);
    for (int64_t n = 0; n < shape.batch; ++n)
      for (int64_t y = 0; y < shape.out_height(); ++y)
        for (int64_t x = 0; x < shape.out_width(); ++x)
          for (int64_t o = 0; o < shape.out_channels; ++o)
            for (int64_t ky = 0; ky < 5; ++ky)
              for (int64_t kx = 0; kx < 5; ++kx)
                for (int64_t ch = 0; ch < shape.in_channels; ++ch)
                  expected[static_cast<size_t>(
                      ((n * shape.height + y + ky) * shape.width + x + kx) * shape.in_channels + ch)] +=
                      grad_at(c, n, y, x, o) * weight_at(c, o, ky, kx, ch);
    std::vector<float> actual(c.in.size(), std::nanf(""));
    lenet5::native::conv5x5_input_gradient(shape, c.grad_out.data(), c.weight.data(), actual.data(), Isa::kScalar);
    expect_close(actual, expected, "input gradient");
  }
}

TEST(NativeConvolution, ThePortableForwardAndWeightGradientFollowTheirDefinitions) {
  const Case c = random_case(kShapes[2], 2);
  const auto& s = c.shape;
  std::vector<float> out(c.outputs()), grad_weight(c.weight.size()), grad_bias(c.bias.size());
  lenet5::native::conv5x5_forward(s, c.in.data(), c.weight.data(), c.bias.data(), out.data(), Isa::kScalar);
  lenet5::native::conv5x5_weight_gradient(s, c.in.data(), c.grad_out.data(), grad_weight.data(), grad_bias.data(),
                                          Isa::kScalar);
  // Spot checks at the corners of the output and of the kernel.
  for (int64_t y : {int64_t{0}, s.out_height() - 1}) {
    for (int64_t x : {int64_t{0}, s.out_width() - 1}) {
      double sum = c.bias[9];
      for (int64_t ky = 0; ky < 5; ++ky)
        for (int64_t kx = 0; kx < 5; ++kx)
          for (int64_t ch = 0; ch < s.in_channels; ++ch)
            sum += input_at(c, 0, y + ky, x + kx, ch) * weight_at(c, 9, ky, kx, ch);
      EXPECT_NEAR(out[static_cast<size_t>((y * s.out_width() + x) * s.out_channels + 9)], sum, 1e-5);
    }
  }
  double dw = 0, db = 0;
  for (int64_t y = 0; y < s.out_height(); ++y)
    for (int64_t x = 0; x < s.out_width(); ++x)
      dw += grad_at(c, 0, y, x, 4) * input_at(c, 0, y + 4, x + 3, 2), db += grad_at(c, 0, y, x, 4);
  EXPECT_NEAR(grad_weight[static_cast<size_t>(((4 * 5 + 4) * 5 + 3) * s.in_channels + 2)], dw, 1e-5);
  EXPECT_NEAR(grad_bias[4], db, 1e-5);
}

TEST(NativeConvolution, EveryInstructionSetGivesThePortableResults) {
  if (!lenet5::native::isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  for (const auto& shape : kShapes) {
    const Case c = random_case(shape, 3);
    for (bool with_bias : {true, false}) {
      std::vector<float> expected(c.outputs()), actual(c.outputs(), std::nanf(""));
      const float* bias = with_bias ? c.bias.data() : nullptr;
      lenet5::native::conv5x5_forward(shape, c.in.data(), c.weight.data(), bias, expected.data(), Isa::kScalar);
      lenet5::native::conv5x5_forward(shape, c.in.data(), c.weight.data(), bias, actual.data(), Isa::kAvx2);
      expect_close(actual, expected, "forward");
    }
    std::vector<float> expected_in(c.in.size()), actual_in(c.in.size(), std::nanf(""));
    lenet5::native::conv5x5_input_gradient(shape, c.grad_out.data(), c.weight.data(), expected_in.data(), Isa::kScalar);
    lenet5::native::conv5x5_input_gradient(shape, c.grad_out.data(), c.weight.data(), actual_in.data(), Isa::kAvx2);
    expect_close(actual_in, expected_in, "input gradient");
    std::vector<float> expected_w(c.weight.size()), actual_w(c.weight.size(), std::nanf(""));
    std::vector<float> expected_b(c.bias.size()), actual_b(c.bias.size(), std::nanf(""));
    lenet5::native::conv5x5_weight_gradient(shape, c.in.data(), c.grad_out.data(), expected_w.data(), expected_b.data(),
                                            Isa::kScalar);
    lenet5::native::conv5x5_weight_gradient(shape, c.in.data(), c.grad_out.data(), actual_w.data(), actual_b.data(),
                                            Isa::kAvx2);
    expect_close(actual_w, expected_w, "weight gradient");
    expect_close(actual_b, expected_b, "bias gradient");
  }
}

TEST(NativeConvolution, RefusesShapesItHasNoKernelsFor) {
  std::vector<float> buffer(4096);
  for (const Conv5x5Shape shape :
       {Conv5x5Shape{1, 4, 8, 1, 6}, Conv5x5Shape{1, 8, 8, 1, 17}, Conv5x5Shape{1, 8, 8, 17, 1}}) {
    EXPECT_THROW(lenet5::native::conv5x5_forward(shape, buffer.data(), buffer.data(), nullptr, buffer.data()),
                 std::invalid_argument);
  }
}

}  // namespace
