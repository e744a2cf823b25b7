// The README's "From C++ (LibTorch)" and "From Python (PyTorch)" snippets, taken from README.md itself:
// the C++ file and its CMakeLists.txt are built with CMake against the LibTorch this project uses, then run
// on an exported model next to them; the Python one runs with the project's Python. Each must print the
// class that the exported model gives for the snippet's input (all zeros).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <torch/script.h>

#include <fstream>
#include <string>

#include "lenet5/deploy/export.h"
#include "readme_blocks.h"
#include "test_files.h"

namespace {

using ::testing::HasSubstr;

std::string readme() { return lenet5::testing::read_text(std::string(LENET5_SOURCE_DIR) + "/README.md"); }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// Exports a freshly initialised modern network to DIR/model.pt and returns the class it gives an all-zero
// image, computed here through torch::jit::load as any client would.
int64_t export_model(const std::string& dir) {
  torch::manual_seed(5);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  lenet5::deploy::export_torchscript(net, lenet5::deploy::ExportMetadata{}, dir + "/model.pt", false);
  auto module = torch::jit::load(dir + "/model.pt");
  torch::InferenceMode guard;
  return module.forward({torch::zeros({1, 1, 28, 28})}).toTensor().argmax(1).item<int64_t>();
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

TEST(ReadmeSnippets, CppSnippetBuildsWithItsCMakeBlockAndPrintsTheClass) {
  const auto cpp = lenet5::testing::fenced_blocks(readme(), "cpp", "#### From C++ (LibTorch)");
  const auto cmake = lenet5::testing::fenced_blocks(readme(), "cmake", "#### From C++ (LibTorch)");
  ASSERT_EQ(cpp.size(), 1u);
  ASSERT_EQ(cmake.size(), 1u);
  lenet5::testing::TempDir dir;
  write_text(dir.file("main.cpp"), cpp.front());
  write_text(dir.file("CMakeLists.txt"), cmake.front());
  const int64_t expected = export_model(dir.path());

  const std::string launcher =
      lenet5::testing::run_shell("command -v ccache").exit_code == 0 ? " -DCMAKE_CXX_COMPILER_LAUNCHER=ccache" : "";
  const auto configure =
      lenet5::testing::run_shell("cmake -S " + quoted(dir.path()) + " -B " + quoted(dir.file("build")) +
                                 " -DCMAKE_BUILD_TYPE=Release" + " -DTorch_DIR=" + quoted(LENET5_TORCH_DIR) +
                                 " -DCMAKE_CXX_COMPILER=" + quoted(LENET5_CXX_COMPILER) + launcher + " 2>&1");
  ASSERT_EQ(configure.exit_code, 0) << configure.output;
  // Paths relative to the temporary folder, so ccache (when there is one) finds the previous run's objects.
  const auto build =
      lenet5::testing::run_shell("CCACHE_BASEDIR=" + quoted(dir.path()) + " CCACHE_NOHASHDIR=1 cmake --build " +
                                 quoted(dir.file("build")) + " 2>&1");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  const auto run = lenet5::testing::run_shell("cd " + quoted(dir.path()) + " && build/classify 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, ::testing::StartsWith("class " + std::to_string(expected) + ", probability 0."))
      << run.output;
}

TEST(ReadmeSnippets, PythonSnippetPrintsTheClass) {
  const std::string python = LENET5_PYTHON;
  if (lenet5::testing::run_shell(python + " -c 'import torch' 2>&1").exit_code != 0) {
    GTEST_SKIP() << python << " cannot import torch (Debian: apt install python3-torch)";
  }
  const auto snippet = lenet5::testing::fenced_blocks(readme(), "python", "#### From Python (PyTorch)");
  ASSERT_EQ(snippet.size(), 1u);
  lenet5::testing::TempDir dir;
  write_text(dir.file("classify.py"), snippet.front());
  const int64_t expected = export_model(dir.path());
  const auto run = lenet5::testing::run_shell("cd " + quoted(dir.path()) + " && " + python + " classify.py 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // MNIST's class names are the digits.
  EXPECT_THAT(run.output, ::testing::StartsWith(std::to_string(expected) + " 0.")) << run.output;
}

}  // namespace
