// The CUDA paths against their CPU counterparts: the model, FlatAdamW's whole-buffer step, a short training run,
// and an exported model served on the GPU. Every test skips, saying why, where LibTorch sees no CUDA device.
#include <gtest/gtest.h>

#include <iostream>

#include "deploy_test_support.h"
#include "lenet5/deploy/export.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/engine/trainer.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/model/loss.h"
#include "test_files.h"

namespace {

using lenet5::model::LeNet5;
using lenet5::model::Variant;

#define LENET5_REQUIRE_CUDA()                                                            \
  if (!torch::cuda::is_available()) {                                                    \
    GTEST_SKIP() << "no CUDA device (CPU-only LibTorch or no GPU): CUDA paths untested"; \
  }

const torch::Device kCuda(torch::kCUDA, 0);

// TF32 and other kernels round differently from the CPU; scores of this network are O(10).
constexpr double kScoreTolerance = 2e-2;

TEST(Cuda, ForwardMatchesCpuForBothVariants) {
  LENET5_REQUIRE_CUDA();
  for (auto variant : {Variant::kModern, Variant::kClassic}) {
    torch::manual_seed(3);
    LeNet5 net(variant);
    net->eval();
    const auto images = torch::rand({33, 1, 28, 28});
    torch::NoGradGuard no_grad;
    const auto cpu_scores = net->forward(images);
    net->to(kCuda);
    const auto cuda_scores = net->forward(images.to(kCuda)).cpu();
    EXPECT_TRUE(torch::allclose(cuda_scores, cpu_scores, 1e-3, kScoreTolerance))
        << lenet5::model::variant_name(variant) << ": max diff "
        << (cuda_scores - cpu_scores).abs().max().item<double>();
  }
}

TEST(Cuda, FlatAdamWFollowsTorchAdamW) {
  LENET5_REQUIRE_CUDA();
  auto make = [] {
    torch::manual_seed(5);
    LeNet5 net(Variant::kModern);
    net->to(kCuda);
    return net;
  };
  auto reference = make();
  auto flat = make();
  const auto options = torch::optim::AdamWOptions(3e-3).weight_decay(0.05);
  torch::optim::AdamW reference_optimizer(reference->parameters(), options);
  lenet5::engine::FlatAdamW flat_optimizer(flat->parameters(), options);
  ASSERT_TRUE(flat_optimizer.is_flat());
  auto train_step = [](LeNet5& net, torch::optim::Optimizer& optimizer, const torch::Tensor& images,
                       const torch::Tensor& targets) {
    optimizer.zero_grad();
    lenet5::model::classification_loss(net->forward(images), targets, Variant::kModern).backward();
    optimizer.step();
  };
  for (int64_t step = 0; step < 5; ++step) {
    torch::manual_seed(100 + step);
    const auto images = torch::rand({16, 1, 28, 28}).to(kCuda);
    const auto targets = torch::randint(0, 10, {16}).to(kCuda);
    train_step(reference, reference_optimizer, images, targets);
    train_step(flat, flat_optimizer, images, targets);
  }
  const auto expected = reference->named_parameters();
  for (const auto& item : flat->named_parameters()) {
    EXPECT_TRUE(torch::allclose(item.value().cpu(), expected[item.key()].cpu(), 1e-4, 1e-5)) << item.key();
  }
}

TEST(Cuda, ShortTrainingRunLearns) {
  LENET5_REQUIRE_CUDA();
  LENET5_REQUIRE_MNIST();
  lenet5::testing::TempDir dir;
  lenet5::engine::TrainOptions options;
  options.data_dir = lenet5::testing::mnist_dir();
  options.device = "cuda";
  options.epochs = 1;
  options.train_limit = 6400;
  options.test_limit = 2000;
  options.out_dir = dir.file("run");
  const auto result = lenet5::engine::train(options);
  ASSERT_EQ(result.history.size(), 1u);
  EXPECT_GT(result.history.back().test_accuracy, 0.85);
}

TEST(Cuda, ExportedModelServesOnCudaWithCpuScores) {
  LENET5_REQUIRE_CUDA();
  LENET5_REQUIRE_MNIST();
  lenet5::testing::TempDir dir;
  auto net = lenet5::testing::quick_trained_model(Variant::kModern, 20);
  lenet5::deploy::ExportMetadata metadata;
  const auto path = dir.file("model.pt");
  lenet5::deploy::export_torchscript(net, metadata, path, /*optimize=*/false);
  auto on_cpu = lenet5::deploy::load_exported(path, torch::kCPU);
  auto on_cuda = lenet5::deploy::load_exported(path, kCuda);
  for (int64_t batch : {1, 64, 1025}) {
    const auto images = torch::rand({batch, 1, 28, 28});
    const auto expected = on_cpu.forward(images);
    const auto actual = on_cuda.forward(images.to(kCuda)).cpu();
    EXPECT_TRUE(torch::allclose(actual, expected, 1e-3, kScoreTolerance)) << "batch " << batch;
    EXPECT_TRUE(torch::equal(actual.argmax(1), expected.argmax(1))) << "batch " << batch;
  }
}

}  // namespace

// Without a CUDA device every case would skip and CTest would call the binary passed: say why once and exit
// with the code that tests/CMakeLists.txt gives as SKIP_RETURN_CODE, so `ctest` reports cuda_test as skipped.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!torch::cuda::is_available() && !::testing::GTEST_FLAG(list_tests)) {
    std::cout << "cuda_test: no CUDA device (CPU-only LibTorch or no GPU): CUDA paths untested\n";
    return 77;
  }
  return RUN_ALL_TESTS();
}
