// InferenceSession: the compiled forms agree with the module they come from, for both variants and the batch
// sizes on either side of the small-batch threshold, and say which engine serves which batch.
#include <gtest/gtest.h>

#include "lenet5/deploy/export.h"
#include "lenet5/deploy/session.h"

namespace {

using lenet5::deploy::InferenceSession;
using lenet5::model::Variant;

TEST(DeploySession, ServesTheModulesScoresAtEveryBatchSize) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    SCOPED_TRACE(lenet5::model::variant_name(variant));
    torch::manual_seed(7);
    lenet5::model::LeNet5 net(variant);
    auto module = lenet5::deploy::to_torchscript(net);
    InferenceSession session(module, torch::kCPU);
    for (int64_t batch :
         {int64_t{1}, InferenceSession::kSmallBatchMax, InferenceSession::kSmallBatchMax + 1, int64_t{64}}) {
      const auto images = torch::rand({batch, 1, 28, 28});
      c10::InferenceMode inference;
      const auto expected = module.forward({images}).toTensor();
      const auto actual = session.forward(images);
      ASSERT_EQ(actual.sizes(), expected.sizes()) << "batch " << batch;
      EXPECT_LE((actual - expected).abs().max().item<double>(),
                1e-4 * std::max(1.0, expected.abs().max().item<double>()))
          << "batch " << batch << " via " << session.engine_for(batch);
    }
  }
}

TEST(DeploySession, SmallBatchesUseXnnpackAndLargeOnesOneDnnOnCpu) {
  lenet5::model::LeNet5 net(Variant::kModern);
  InferenceSession session(lenet5::deploy::to_torchscript(net), torch::kCPU);
  EXPECT_EQ(session.engine_for(1), "xnnpack");
  EXPECT_EQ(session.engine_for(InferenceSession::kSmallBatchMax), "xnnpack");
  EXPECT_EQ(session.engine_for(InferenceSession::kSmallBatchMax + 1), "onednn");
  EXPECT_EQ(session.engine_for(1024), "onednn");
}

TEST(DeploySession, NoNotesWhenEveryCompiledFormServes) {
  lenet5::model::LeNet5 net(Variant::kModern);
  InferenceSession session(lenet5::deploy::to_torchscript(net), torch::kCPU);
  EXPECT_TRUE(session.notes().empty()) << session.notes().front();
}

// A compiled form that cannot stand in for the module is not used, and the session says why, one line each.
TEST(DeploySession, SaysWhyACompiledFormIsNotUsed) {
  torch::jit::Module module("__torch__.Foreign");
  module.define("def forward(self, x: Tensor):\n    return torch.rand([x.size(0), 10])\n");  // never agrees
  InferenceSession session(module, torch::kCPU);
  EXPECT_EQ(session.engine_for(1), "torchscript");
  EXPECT_EQ(session.engine_for(1024), "torchscript");
  ASSERT_EQ(session.notes().size(), 2u);
  EXPECT_EQ(session.notes()[0],
            "onednn (optimize_for_inference) not used: its scores differ from the module's on the "
            "check batch");
  EXPECT_EQ(session.notes()[1].rfind("xnnpack (optimize_for_mobile) not used: ", 0), 0u) << session.notes()[1];
  for (const auto& note : session.notes()) EXPECT_EQ(note.find('\n'), std::string::npos) << note;
}

TEST(DeploySession, WrongInputStillFailsWithTheModulesMessage) {
  lenet5::model::LeNet5 net(Variant::kModern);
  InferenceSession session(lenet5::deploy::to_torchscript(net), torch::kCPU);
  try {
    session.forward(torch::rand({1, 3, 28, 28}));
    FAIL() << "a 3-channel batch was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("LeNet-5 expects float32 [N,1,28,28]"), std::string::npos) << e.what();
  }
}

// The session checks the module it compiles: finite float scores [16,10] on the check batch, else one line.
TEST(DeploySession, RefusesAModuleThatBreaksTheContract) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    return torch.zeros([x.size(0), 7])\n", "the model: forward returns [16, 7], expected [16, 10]"},
      {"    return torch.full([x.size(0), 10], float('inf'))\n",
       "the model: forward returns non-finite scores (NaN or infinity) for 16 of 16 images"},
      {"    assert x.size(0) < 0, 'no scores today'\n    return x\n", "the model fails on the check batch: "},
  };
  for (const auto& [body, expected] : cases) {
    torch::jit::Module module("__torch__.Foreign");
    module.define("def forward(self, x: Tensor):\n" + body);
    try {
      InferenceSession session(module, torch::kCPU);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const lenet5::deploy::DeployError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(expected, 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

}  // namespace
