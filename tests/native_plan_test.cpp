// NativePlan's kernels against each other: every instruction set this CPU runs gives the portable scalar
// kernels' scores (to float rounding: the vector code sums in another order and approximates tanh), for both
// variants, batch sizes around the dense layers' blocks, and split over threads. The plan against the
// PyTorch module is deploy_session_test's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels.h"  // native/src: the FMA loop the peak is measured with
#include "lenet5/native/plan.h"

namespace {

using lenet5::native::Isa;
using lenet5::native::NativePlan;
using lenet5::native::Variant;
using lenet5::native::Weights;

std::vector<float> random_values(size_t count, float bound, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-bound, bound);
  std::vector<float> values(count);
  for (auto& v : values) v = uniform(rng);
  return values;
}

Weights random_weights(Variant variant) {
  std::mt19937 rng(variant == Variant::kClassic ? 11 : 7);
  Weights w;
  w.variant = variant;
  w.input_scale = variant == Variant::kClassic ? 1.275f : 3.2457f;
  w.input_shift = variant == Variant::kClassic ? -0.1f : -0.4242f;
  w.border_value = variant == Variant::kClassic ? -0.1f : 0.0f;
  w.squash_amplitude = 1.7159f, w.squash_slope = 2.0f / 3.0f;
  w.c1_weight = random_values(6 * 25, 0.4f, rng), w.c1_bias = random_values(6, 0.2f, rng);
  w.c3_weight = random_values(16 * 150, 0.08f, rng), w.c3_bias = random_values(16, 0.08f, rng);
  w.c5_weight = random_values(120 * 400, 0.05f, rng), w.c5_bias = random_values(120, 0.05f, rng);
  w.f6_weight = random_values(84 * 120, 0.09f, rng), w.f6_bias = random_values(84, 0.09f, rng);
  if (variant == Variant::kClassic) {
    w.s2_weight = random_values(6, 1.0f, rng), w.s2_bias = random_values(6, 0.5f, rng);
    w.s4_weight = random_values(16, 1.0f, rng), w.s4_bias = random_values(16, 0.5f, rng);
    w.output_prototypes = random_values(10 * 84, 1.0f, rng);
  } else {
    w.output_weight = random_values(10 * 84, 0.1f, rng), w.output_bias = random_values(10, 0.1f, rng);
  }
  return w;
}

std::vector<float> scores_of(const NativePlan& plan, const std::vector<float>& images, int threads) {
  const int64_t n = static_cast<int64_t>(images.size() / 784);
  std::vector<float> scores(static_cast<size_t>(n) * 10, std::nanf(""));
  plan.forward(images.data(), n, scores.data(), threads);
  return scores;
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  float scale = 1;
  for (float e : expected) scale = std::max(scale, std::abs(e));
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-4f * scale) << what << ", score " << i;
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2}) {
    if (lenet5::native::isa_supported(isa)) isas.push_back(isa);
  }
  return isas;
}

TEST(NativePlan, EveryInstructionSetGivesTheScalarScores) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    const Weights weights = random_weights(variant);
    const NativePlan reference(weights, Isa::kScalar);  // the threads' split is checked on the fast ISA
    std::mt19937 rng(3);
    for (int64_t n : {1, 3, 8, 63, 385}) {  // 385: 3 threads of at least 128 images
      auto images = random_values(static_cast<size_t>(n) * 784, 0.5f, rng);
      for (auto& p : images) p += 0.5f;  // pixels in [0,1]
      const auto expected = scores_of(reference, images, 1);
      for (float s : expected) ASSERT_TRUE(std::isfinite(s));
      for (Isa isa : supported_isas()) {
        const NativePlan plan(weights, isa);
        for (int threads : isa == Isa::kScalar ? std::vector<int>{1} : std::vector<int>{1, 2, 3}) {
          expect_close(scores_of(plan, images, threads), expected,
                       plan.engine_name() + (variant == Variant::kClassic ? " classic" : " modern") + ", batch " +
                           std::to_string(n) + ", " + std::to_string(threads) + " threads");
        }
      }
    }
  }
}

TEST(NativePlan, ScoresDependOnEveryInput) {  // guards the test above against a plan that ignores its input
  const NativePlan plan(random_weights(Variant::kModern));
  std::vector<float> images(2 * 784, 0.0f);
  for (size_t i = 784; i < images.size(); ++i) images[i] = (i % 7) / 7.0f;
  const auto scores = scores_of(plan, images, 1);
  EXPECT_NE(std::vector<float>(scores.begin(), scores.begin() + 10),
            std::vector<float>(scores.begin() + 10, scores.end()));
}

// PyTorch's max pooling and ReLU keep a NaN, so the module's scores of such an image are NaN: the plan's too.
TEST(NativePlan, AnImageWithAPixelThatIsNotFiniteGetsNanScores) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    for (Isa isa : supported_isas()) {
      const NativePlan plan(random_weights(variant), isa);
      for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
        std::vector<float> images(3 * 784, 0.5f);
        images[784 + 400] = bad;
        const auto scores = scores_of(plan, images, 1);
        for (int j = 0; j < 10; ++j) {
          EXPECT_TRUE(std::isfinite(scores[j]) && std::isfinite(scores[20 + j])) << plan.engine_name();
          EXPECT_TRUE(std::isnan(scores[10 + j])) << plan.engine_name() << " pixel " << bad;
        }
      }
    }
  }
}

TEST(NativePlan, NamesATensorOfTheWrongSize) {
  Weights weights = random_weights(Variant::kModern);
  weights.c3_weight.pop_back();
  try {
    NativePlan plan(weights);
    FAIL() << "accepted a C3 weight of 2399 values";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "native plan: C3 weight has 2399 values, expected 2400");
  }
  weights = random_weights(Variant::kClassic);
  weights.output_prototypes.clear();
  EXPECT_THROW(NativePlan{weights}, std::invalid_argument);
}

TEST(NativePlan, NamesItsEngineAndMeasuresAPeak) {
  const NativePlan plan(random_weights(Variant::kModern), Isa::kScalar);
  EXPECT_EQ(plan.engine_name(), "native-scalar");
  EXPECT_EQ(lenet5::native::NativePlan(random_weights(Variant::kModern)).isa(), lenet5::native::best_isa());
  EXPECT_GT(lenet5::native::measure_fma_peak_gflops(0.01), 0.0);
}

// The peak loop computes 12 chains from distinct starts: chains that start equal are merged by the compiler
// into one FMA a round, and the "peak" came out 1.5x too high.
TEST(NativePlan, ThePeakLoopRunsTwelveDistinctChains) {
  if (!lenet5::native::isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  using lenet5::native::detail::kChainFactor, lenet5::native::detail::kChainTerm;
  constexpr long kRounds = 1000;
  float expected = 0;
  for (int chain = 0; chain < 12; ++chain) {
    float x = static_cast<float>(chain);
    for (long i = 0; i < kRounds; ++i) x = std::fma(x, kChainFactor, kChainTerm);
    expected += x;
  }
  EXPECT_NEAR(lenet5::native::detail::fma_chains_avx2(kRounds), expected, 1e-4f * std::abs(expected));
}

}  // namespace
