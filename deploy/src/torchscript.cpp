#include <algorithm>
#include <iomanip>
#include <locale>
#include <sstream>

#include "lenet5/deploy/export.h"
#include "lenet5/model/paper_tables.h"

namespace lenet5::deploy {
namespace {

using model::kClassicBackground;
using model::kClassicInkRange;
using model::kMnistMean;
using model::kMnistStd;
using model::kSquashAmplitude;
using model::kSquashSlope;

std::string number(double value) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::setprecision(17) << value;
  std::string text = out.str();
  if (text.find_first_of(".e") == std::string::npos) text += ".0";  // a float literal for TorchScript
  return text;
}

// TorchScript source of forward for each variant; the same aten ops in the same order as the eager model,
// so the exported scores match it to the last bit on the same device.
std::string forward_source(model::Variant variant) {
  const std::string guard =
      "    assert x.dim() == 4 and x.size(1) == 1 and x.size(2) == 28 and x.size(3) == 28, "
      "\"LeNet-5 expects float32 [N,1,28,28] with pixel values in [0,1]\"\n";
  const std::string squash_open = "torch.tanh((";
  const std::string squash_close = ") * " + number(kSquashSlope) + ") * " + number(kSquashAmplitude);
  auto squash = [&](const std::string& inner) { return squash_open + inner + squash_close; };
  auto conv = [](const std::string& layer, int padding) {
    const std::string p = std::to_string(padding);
    return "torch.conv2d(x, self." + layer + "_weight, self." + layer + "_bias, [1, 1], [" + p + ", " + p +
           "], [1, 1], 1)";
  };
  std::ostringstream src;
  src << "def forward(self, x: Tensor) -> Tensor:\n" << guard;
  if (variant == model::Variant::kClassic) {
    auto subsampling = [&](const std::string& layer) {
      return "    x = torch.avg_pool2d(x, [2, 2], [2, 2]) * 4.0\n    x = " +
             squash("x * self." + layer + "_weight.view([1, -1, 1, 1]) + self." + layer + "_bias.view([1, -1, 1, 1])") +
             "\n";
    };
    src << "    x = torch.constant_pad_nd(x, [2, 2, 2, 2], 0.0) * " << number(kClassicInkRange) << " + "
        << number(kClassicBackground) << "\n"
        << "    x = " << squash(conv("C1", 0)) << "\n"
        << subsampling("S2") << "    x = " << squash(conv("C3", 0)) << "\n"
        << subsampling("S4") << "    x = " << squash(conv("C5", 0)) << "\n"
        << "    x = " << squash("torch.linear(torch.flatten(x, 1), self.F6_weight, self.F6_bias)") << "\n"
        << "    return -torch.sum(torch.pow(x.unsqueeze(1) - self.output_prototypes.unsqueeze(0), 2), [2])\n";
  } else {
    const std::string pool = "    x = torch.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], False)\n";
    src << "    x = (x - " << number(kMnistMean) << ") / " << number(kMnistStd) << "\n"
        << "    x = torch.relu(" << conv("C1", 2) << ")\n"
        << pool << "    x = torch.relu(" << conv("C3", 0) << ")\n"
        << pool << "    x = torch.relu(" << conv("C5", 0) << ")\n"
        << "    x = torch.relu(torch.linear(torch.flatten(x, 1), self.F6_weight, self.F6_bias))\n"
        << "    return torch.linear(x, self.output_weight, self.output_bias)\n";
  }
  return src.str();
}

}  // namespace

torch::jit::Module to_torchscript(model::LeNet5& model) {
  torch::NoGradGuard no_grad;
  const auto variant = model->variant();
  const bool classic = variant == model::Variant::kClassic;
  torch::jit::Module module(classic ? "__torch__.lenet5.LeNet5Classic" : "__torch__.lenet5.LeNet5Modern");
  module.register_attribute("training", c10::BoolType::get(), false);
  for (const auto& tensor : model->dense_tensors()) {  // "C1.weight" -> attribute C1_weight
    std::string name = tensor.name;
    std::replace(name.begin(), name.end(), '.', '_');
    module.register_parameter(name, tensor.value.detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous),
                              /*is_buffer=*/!tensor.trainable);
  }
  module.define(forward_source(variant));
  return module;
}

}  // namespace lenet5::deploy
