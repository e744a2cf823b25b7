// A Python client (tests/python_client.py: torch.jit.load, numpy, nothing of ours) loads the exported models
// and reproduces the C++ scores on the MNIST test set.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "deploy_test_support.h"
#include "lenet5/deploy/export.h"

namespace {

using lenet5::model::Variant;

using lenet5::testing::CommandResult;

CommandResult run(const std::string& command) { return lenet5::testing::run_shell(command + " 2>&1"); }

void write_scores(const std::string& path, const torch::Tensor& scores) {
  const auto contiguous = scores.to(torch::kFloat32).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(contiguous.data_ptr<float>()),
            static_cast<std::streamsize>(contiguous.numel() * sizeof(float)));
  ASSERT_TRUE(out.good()) << path;
}

TEST(PythonClient, TorchJitLoadReproducesTheCppScores) {
  LENET5_REQUIRE_MNIST();
  const std::string python = LENET5_PYTHON;
  if (run(python + " -c 'import torch, numpy'").exit_code != 0) {
    GTEST_SKIP() << python << " cannot import torch and numpy (Debian: apt install python3-torch); "
                 << "the Python client check did not run";
  }
  const lenet5::data::MnistDataset test(lenet5::testing::mnist_dir(), lenet5::data::Split::kTest);
  lenet5::testing::TempDir dir;
  std::string arguments;
  // Freshly initialised models (deploy_export_test and deploy_cli_test use trained ones): a modern one as
  // exported, scored on all 10,000 test images, and a classic one frozen (optimize), scored on the first 2,000
  // (the slower network; the client scores as many images as it gets expected scores for). The expected scores
  // are the eager model's, in batches of 1000 as the client scores them; the export reproduces them bit for bit.
  for (const auto variant : {Variant::kModern, Variant::kClassic}) {
    const bool classic = variant == Variant::kClassic;
    const int64_t n = classic ? 2000 : test.length();
    torch::manual_seed(11);
    lenet5::model::LeNet5 net(variant);
    net->eval();
    torch::Tensor scores;
    {
      c10::InferenceMode inference;
      std::vector<torch::Tensor> parts;
      for (int64_t begin = 0; begin < n; begin += 1000) {
        parts.push_back(net->forward(test.images().slice(0, begin, begin + 1000)));
      }
      scores = torch::cat(parts);
    }
    lenet5::deploy::ExportMetadata metadata;  // test accuracy: of the whole test set only, else unknown
    if (n == test.length()) {
      metadata.test_accuracy = scores.argmax(1).eq(test.targets()).to(torch::kFloat64).mean().item<double>();
    }
    const std::string model = dir.file(classic ? "classic.pt" : "modern.pt");
    const std::string expected = dir.file(classic ? "classic.f32" : "modern.f32");
    lenet5::deploy::export_torchscript(net, metadata, model, /*optimize=*/classic);
    write_scores(expected, scores);
    arguments += " --model " + model + " --expected " + expected;
  }
  const auto result = run(python + " " + LENET5_PYTHON_CLIENT + " --data " + lenet5::testing::mnist_dir() + arguments);
  std::cout << result.output;
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
