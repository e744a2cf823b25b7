// InferenceSession: the compiled forms agree with the module they come from, for both variants, odd batch
// sizes and non-contiguous input, and say which engine serves which batch; the native plan of each instruction
// set matches the module, and a module it does not recognise or does not reproduce is served by the other
// forms, with a note saying why.
#include <gtest/gtest.h>

#include "lenet5/deploy/export.h"
#include "lenet5/deploy/native_plan.h"
#include "lenet5/deploy/session.h"

namespace {

using lenet5::deploy::InferenceSession;
using lenet5::model::Variant;
namespace native = lenet5::native;

const std::string kNativeEngine = "native-" + native::isa_name(native::best_isa());

void expect_same_scores(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  EXPECT_LE((actual - expected).abs().max().item<double>(), 1e-4 * std::max(1.0, expected.abs().max().item<double>()))
      << what;
}

// The modern forward as to_torchscript writes it, with `mean` as the normalisation's mean and `activation` after F6.
torch::jit::Module modern_module_with(const std::string& mean, const std::string& activation) {
  torch::manual_seed(3);
  lenet5::model::LeNet5 net(Variant::kModern);
  const auto exported = lenet5::deploy::to_torchscript(net);
  torch::jit::Module module("__torch__.Lookalike");
  for (const auto& parameter : exported.named_parameters())
    module.register_parameter(parameter.name, parameter.value, false);
  auto conv_of = [&](const std::string& layer, const std::string& padding) {
    return "torch.conv2d(x, self." + layer + "_weight, self." + layer + "_bias, [1, 1], [" + padding + ", " + padding +
           "], [1, 1], 1)";
  };
  const std::string pool = "    x = torch.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], False)\n";
  module.define("def forward(self, x: Tensor) -> Tensor:\n    assert x.dim() == 4\n    x = (x - " + mean +
                ") / 0.3081\n    x = torch.relu(" + conv_of("C1", "2") + ")\n" + pool + "    x = torch.relu(" +
                conv_of("C3", "0") + ")\n" + pool + "    x = torch.relu(" + conv_of("C5", "0") +
                ")\n    x = " + activation + "(torch.linear(torch.flatten(x, 1), self.F6_weight, self.F6_bias))\n" +
                "    return torch.linear(x, self.output_weight, self.output_bias)\n");
  return module;
}

TEST(DeploySession, ServesTheModulesScoresAtEveryBatchSize) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    SCOPED_TRACE(lenet5::model::variant_name(variant));
    torch::manual_seed(7);
    lenet5::model::LeNet5 net(variant);
    auto module = lenet5::deploy::to_torchscript(net);
    InferenceSession session(module, torch::kCPU);
    EXPECT_EQ(session.engine_for(1), kNativeEngine);
    EXPECT_TRUE(session.notes().empty()) << session.notes().front();
    for (int64_t batch : {1, 2, 3, 63, 64, 1025}) {
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

TEST(DeploySession, NativePlanOfEveryInstructionSetMatchesTheModule) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    torch::manual_seed(11);
    lenet5::model::LeNet5 net(variant);
    auto module = lenet5::deploy::to_torchscript(net);
    for (native::Isa isa : {native::Isa::kScalar, native::Isa::kAvx2}) {
      if (!native::isa_supported(isa)) continue;
      const auto what = lenet5::model::variant_name(variant) + " " + native::isa_name(isa);
      const auto result = lenet5::deploy::native_plan_for(module, isa);
      ASSERT_TRUE(result.plan) << what << ": " << result.why_not;
      EXPECT_EQ(result.plan->engine_name(), "native-" + native::isa_name(isa));
      const bool scalar = isa == native::Isa::kScalar;  // slow: the large batch and threads on the fast ISA only
      for (int64_t batch : scalar ? std::vector<int64_t>{1, 3, 63} : std::vector<int64_t>{1, 3, 63, 1025}) {
        const auto images = torch::rand({batch, 1, 28, 28});
        c10::InferenceMode inference;
        const auto expected = module.forward({images}).toTensor();
        for (int threads : scalar ? std::vector<int>{1} : std::vector<int>{1, 2}) {
          expect_same_scores(lenet5::deploy::native_forward(*result.plan, images, threads), expected,
                             what + ", batch " + std::to_string(batch) + ", " + std::to_string(threads) + " threads");
        }
      }
    }
  }
}

TEST(DeploySession, NonContiguousInputGetsTheModulesScores) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    lenet5::model::LeNet5 net(variant);
    auto module = lenet5::deploy::to_torchscript(net);
    InferenceSession session(module, torch::kCPU);
    ASSERT_EQ(session.engine_for(5), kNativeEngine);
    const auto base = torch::rand({10, 1, 28, 28});
    for (const auto& images : {base.transpose(2, 3), base.slice(0, 0, 10, 2), base.expand({10, 1, 28, 28}).flip(3)}) {
      c10::InferenceMode inference;
      expect_same_scores(session.forward(images), module.forward({images}).toTensor(),
                         lenet5::model::variant_name(variant) + ", strides " + c10::str(images.strides()));
    }
  }
}

// ExportedModel refuses non-finite scores: the native plan gives them where the module does.
TEST(DeploySession, APixelThatIsNotANumberGivesNanScoresAsTheModuleDoes) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    lenet5::model::LeNet5 net(variant);
    auto module = lenet5::deploy::to_torchscript(net);
    InferenceSession session(module, torch::kCPU);
    ASSERT_EQ(session.engine_for(2), kNativeEngine);
    auto images = torch::rand({2, 1, 28, 28});
    images[1][0][14][14] = std::nanf("");
    c10::InferenceMode inference;
    const auto expected = module.forward({images}).toTensor();
    const auto actual = session.forward(images);
    EXPECT_TRUE(torch::equal(torch::isnan(actual), torch::isnan(expected))) << actual << expected;
    EXPECT_TRUE(torch::isnan(actual[1]).all().item<bool>());
  }
}

// `lenet5 export --optimize` freezes the module: the classic graph's constants are then folded into its
// convolutions and views, which the plan reads too.
TEST(DeploySession, FrozenExportsAreServedNatively) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    lenet5::model::LeNet5 net(variant);
    auto frozen = torch::jit::freeze(lenet5::deploy::to_torchscript(net));
    InferenceSession session(frozen, torch::kCPU);
    EXPECT_EQ(session.engine_for(1), kNativeEngine) << (session.notes().empty() ? "" : session.notes().front());
    const auto images = torch::rand({5, 1, 28, 28});
    c10::InferenceMode inference;
    expect_same_scores(session.forward(images), frozen.forward({images}).toTensor(),
                       lenet5::model::variant_name(variant) + " frozen");
  }
}

// The lookalike module is recognised as written; changing one operation or one constant of its forward makes the
// session fall back to XNNPACK and oneDNN, saying why in one line.
TEST(DeploySession, AModuleTheNativePlanDoesNotReproduceFallsBackWithANote) {
  EXPECT_EQ(InferenceSession(modern_module_with("0.1307", "torch.relu"), torch::kCPU).engine_for(64), kNativeEngine);
  const std::vector<std::pair<torch::jit::Module, std::string>> cases = {
      {modern_module_with("0.1307", "torch.sigmoid"),
       "native plan not used: its forward is not LeNet-5 as lenet5 exports it (operations: dim eq sub div conv2d relu "
       "max_pool2d conv2d relu max_pool2d conv2d relu flatten linear sigmoid linear)"},
      {modern_module_with("0.2", "torch.relu"), "native plan not used: its scores differ from the module's by "},
  };
  for (const auto& [module, expected] : cases) {
    InferenceSession session(module, torch::kCPU);
    EXPECT_EQ(session.engine_for(1), "xnnpack");
    EXPECT_EQ(session.engine_for(InferenceSession::kSmallBatchMax + 1), "onednn");
    ASSERT_EQ(session.notes().size(), 1u);
    EXPECT_EQ(session.notes()[0].rfind(expected, 0), 0u) << session.notes()[0];
    EXPECT_EQ(session.notes()[0].find('\n'), std::string::npos);
    const auto images = torch::rand({3, 1, 28, 28});
    c10::InferenceMode inference;
    expect_same_scores(session.forward(images), torch::jit::Module(module).forward({images}).toTensor(), expected);
  }
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
  ASSERT_EQ(session.notes().size(), 3u);
  EXPECT_EQ(session.notes()[0].rfind("native plan not used: its forward is not LeNet-5 as lenet5 exports it", 0), 0u)
      << session.notes()[0];
  EXPECT_EQ(session.notes()[1],
            "onednn (optimize_for_inference) not used: its scores differ from the module's on the "
            "check batch");
  EXPECT_EQ(session.notes()[2].rfind("xnnpack (optimize_for_mobile) not used: ", 0), 0u) << session.notes()[2];
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
