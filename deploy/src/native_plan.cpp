#include "lenet5/deploy/native_plan.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "lenet5/deploy/export.h"
#include "lenet5/deploy/session.h"
#include "lenet5/model/lenet5.h"

namespace lenet5::deploy {
namespace {

// How a module's forward computes LeNet-5: as to_torchscript writes it (torchscript.cpp), or frozen, where the
// classic variant's multiplications by the squashing slope are folded into its convolutions and its views of
// the subsampling coefficients and prototypes into constants.
enum class Form { kModern, kClassic, kFrozenClassic };

// The aten operations of forward of each form, in order, the input guard first.
const std::vector<std::pair<Form, std::vector<std::string>>>& forms() {
  static const std::vector<std::pair<Form, std::vector<std::string>>> table = {
      {Form::kModern,
       {"dim", "eq", "sub", "div", "conv2d", "relu", "max_pool2d", "conv2d", "relu", "max_pool2d", "conv2d", "relu",
        "flatten", "linear", "relu", "linear"}},
      {Form::kClassic, {"dim",        "eq",         "constant_pad_nd",
                        "mul",        "add",        "conv2d",
                        "mul",        "tanh",       "mul",
                        "avg_pool2d", "mul",        "view",
                        "mul",        "view",       "add",
                        "mul",        "tanh",       "mul",
                        "conv2d",     "mul",        "tanh",
                        "mul",        "avg_pool2d", "mul",
                        "view",       "mul",        "view",
                        "add",        "mul",        "tanh",
                        "mul",        "conv2d",     "mul",
                        "tanh",       "mul",        "flatten",
                        "linear",     "mul",        "tanh",
                        "mul",        "unsqueeze",  "unsqueeze",
                        "sub",        "pow",        "sum",
                        "neg"}},
      {Form::kFrozenClassic, {"dim",        "eq",      "constant_pad_nd",
                              "mul",        "add",     "conv2d",
                              "tanh",       "mul",     "avg_pool2d",
                              "mul",        "mul",     "add",
                              "mul",        "tanh",    "mul",
                              "conv2d",     "tanh",    "mul",
                              "avg_pool2d", "mul",     "mul",
                              "add",        "mul",     "tanh",
                              "mul",        "conv2d",  "tanh",
                              "mul",        "flatten", "linear",
                              "mul",        "tanh",    "mul",
                              "unsqueeze",  "sub",     "pow",
                              "sum",        "neg"}},
  };
  return table;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : " ") + name;
  return text;
}

// The tensor a graph value stands for: a parameter or buffer of the module (self.<name>) or a constant (a
// frozen module's weights); throws std::invalid_argument for anything computed.
torch::Tensor tensor_of(const torch::jit::Value* value, const torch::jit::Module& module) {
  const torch::jit::Node* node = value->node();
  if (node->kind() == c10::prim::GetAttr && node->input(0)->type()->cast<c10::ClassType>()) {
    return module.attr(node->s(c10::attr::name)).toTensor();
  }
  if (auto constant = torch::jit::toIValue(value); constant && constant->isTensor()) return constant->toTensor();
  throw std::invalid_argument("a weight is computed in the graph, not read from the module");
}

std::vector<float> values_of(const torch::jit::Value* value, const torch::jit::Module& module, const char* name,
                             std::vector<int64_t> shape) {
  const torch::Tensor tensor = tensor_of(value, module);
  if (tensor.scalar_type() != torch::kFloat || !tensor.device().is_cpu() ||
      tensor.numel() != c10::multiply_integers(shape)) {
    std::ostringstream what;
    what << name << " is " << c10::toString(tensor.scalar_type()) << " " << tensor.sizes() << ", expected float "
         << c10::IntArrayRef(shape);
    throw std::invalid_argument(what.str());
  }
  const auto flat = tensor.contiguous();
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

using Nodes = std::map<std::string, std::vector<const torch::jit::Node*>>;  // by operation, in order

std::vector<float> divided(std::vector<float> values, double divisor) {
  for (auto& v : values) v = static_cast<float>(v / divisor);
  return values;
}

// The classic variant's own tensors and constants.
void read_classic(native::Weights& w, const Nodes& nodes, const torch::jit::Module& module, bool frozen) {
  w.variant = native::Variant::kClassic;
  if (frozen) {  // the coefficients are multiplied in, the biases added (mul 3 and 8, add 1 and 2)
    const auto &mul = nodes.at("mul"), &add = nodes.at("add");
    w.s2_weight = values_of(mul[3]->input(1), module, "S2 weight", {6});
    w.s2_bias = values_of(add[1]->input(1), module, "S2 bias", {6});
    w.s4_weight = values_of(mul[8]->input(1), module, "S4 weight", {16});
    w.s4_bias = values_of(add[2]->input(1), module, "S4 bias", {16});
    w.output_prototypes = values_of(nodes.at("sub")[0]->input(1), module, "output prototypes", {10, 84});
    for (auto* folded : {&w.c1_weight, &w.c1_bias, &w.c3_weight, &w.c3_bias, &w.c5_weight, &w.c5_bias}) {
      *folded = divided(*folded, model::kSquashSlope);
    }
  } else {
    const auto& view = nodes.at("view");  // S2 weight, S2 bias, S4 weight, S4 bias
    w.s2_weight = values_of(view[0]->input(0), module, "S2 weight", {6});
    w.s2_bias = values_of(view[1]->input(0), module, "S2 bias", {6});
    w.s4_weight = values_of(view[2]->input(0), module, "S4 weight", {16});
    w.s4_bias = values_of(view[3]->input(0), module, "S4 bias", {16});
    w.output_prototypes = values_of(nodes.at("unsqueeze")[1]->input(0), module, "output prototypes", {10, 84});
  }
  w.input_scale = static_cast<float>(model::kClassicInkRange);
  w.input_shift = w.border_value = static_cast<float>(model::kClassicBackground);
  w.squash_amplitude = static_cast<float>(model::kSquashAmplitude);
  w.squash_slope = static_cast<float>(model::kSquashSlope);
}

// The weights of a module whose forward is one of forms(); throws std::invalid_argument saying what differs.
native::Weights weights_of(torch::jit::Module& module) {
  std::vector<std::string> operations;
  Nodes nodes;
  for (const torch::jit::Node* node : module.get_method("forward").graph()->nodes()) {
    if (!node->kind().is_aten()) continue;
    operations.push_back(node->kind().toUnqualString());
    nodes[operations.back()].push_back(node);
  }
  const auto form = std::find_if(forms().begin(), forms().end(), [&](const auto& f) { return f.second == operations; });
  if (form == forms().end()) {
    throw std::invalid_argument("its forward is not LeNet-5 as lenet5 exports it (operations: " + joined(operations) +
                                ")");
  }
  native::Weights w;
  const auto &conv = nodes["conv2d"], &linear = nodes["linear"];
  w.c1_weight = values_of(conv[0]->input(1), module, "C1 weight", {6, 1, 5, 5});
  w.c1_bias = values_of(conv[0]->input(2), module, "C1 bias", {6});
  w.c3_weight = values_of(conv[1]->input(1), module, "C3 weight", {16, 6, 5, 5});
  w.c3_bias = values_of(conv[1]->input(2), module, "C3 bias", {16});
  w.c5_weight = values_of(conv[2]->input(1), module, "C5 weight", {120, 16, 5, 5});
  w.c5_bias = values_of(conv[2]->input(2), module, "C5 bias", {120});
  w.f6_weight = values_of(linear[0]->input(1), module, "F6 weight", {84, 120});
  w.f6_bias = values_of(linear[0]->input(2), module, "F6 bias", {84});
  if (form->first != Form::kModern) {
    read_classic(w, nodes, module, form->first == Form::kFrozenClassic);
    return w;
  }
  w.variant = native::Variant::kModern;
  w.output_weight = values_of(linear[1]->input(1), module, "output weight", {10, 84});
  w.output_bias = values_of(linear[1]->input(2), module, "output bias", {10});
  w.input_scale = static_cast<float>(1.0 / model::kMnistStd);
  w.input_shift = static_cast<float>(-model::kMnistMean / model::kMnistStd);
  w.border_value = 0;  // C1 pads the normalised image with zeros
  return w;
}

// Images the plan must reproduce the module on: the check batch, its first image alone, and random pixels
// (a batch that ends in a partial block, some outside [0,1]) from a generator of its own.
std::vector<torch::Tensor> agreement_batches() {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(20261126);
  return {check_batch(), check_batch().slice(0, 0, 1), torch::rand({37, 1, 28, 28}, generator) * 1.5 - 0.25};
}

// "" when `plan` gives `module`'s scores (to float rounding) on agreement_batches(), else why not.
std::string disagreement(const native::NativePlan& plan, torch::jit::Module& module) {
  c10::InferenceMode inference;
  for (const auto& images : agreement_batches()) {
    const auto expected = module.forward({images}).toTensor();
    const auto actual = native_forward(plan, images, 1);
    const double scale = std::max(1.0, expected.abs().max().item<double>());
    const double difference = (actual - expected).abs().max().item<double>();
    if (!(difference <= 1e-4 * scale)) {
      std::ostringstream why;
      why << "its scores differ from the module's by " << difference << " (largest score " << scale << ")";
      return why.str();
    }
  }
  return "";
}

}  // namespace

bool native_accepts(const torch::Tensor& images) {
  return images.device().is_cpu() && images.scalar_type() == torch::kFloat && images.dim() == 4 && images.size(0) > 0 &&
         images.size(1) == 1 && images.size(2) == model::kImageSide && images.size(3) == model::kImageSide &&
         images.layout() == torch::kStrided;
}

torch::Tensor native_forward(const native::NativePlan& plan, const torch::Tensor& images, int threads) {
  const auto pixels = images.contiguous();
  auto scores = torch::empty({images.size(0), model::kNumClasses});
  plan.forward(pixels.data_ptr<float>(), images.size(0), scores.data_ptr<float>(), threads);
  return scores;
}

NativePlanResult native_plan_for(torch::jit::Module& module, native::Isa isa) {
  NativePlanResult result;
  try {
    if (!module.find_method("forward")) throw std::invalid_argument("the module has no forward");
    auto plan = std::make_shared<const native::NativePlan>(weights_of(module), isa);
    result.why_not = disagreement(*plan, module);
    if (result.why_not.empty()) result.plan = std::move(plan);
  } catch (const std::exception& e) {
    result.why_not = error_summary(e);
  }
  return result;
}

}  // namespace lenet5::deploy
