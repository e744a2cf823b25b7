// LeNet-5 (LeCun et al., 1998) as a torch::nn::Module, in two variants behind one interface:
//   classic (classic.h): the published network (32x32 input, trainable subsampling, C3 connection table, scaled
//            tanh, Euclidean RBF output against fixed digit bitmaps, the paper's initialisation);
//   modern  (modern.h):  ReLU, 2x2 max pooling, dense C3, linear 10-way output (softmax in the loss).
// Both take float32 [N,1,28,28] with pixel values in [0,1] (ink high, as in MNIST) and return scores [N,10]
// where higher means more likely. The variant's input preprocessing happens inside forward().
//
//   model::LeNet5 net(model::Variant::kClassic);   // the factory: a holder of the interface
//   auto scores = net->forward(images);             // [N,10]
//   auto copy = net.clone();                        // a deep copy, same variant and layout
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "lenet5/model/paper_tables.h"  // the classic variant's numbers, which the export and the report use too

namespace lenet5::model {

enum class Variant { kClassic, kModern };

// The one name table of Variant: the names on the command line and in checkpoints, config.json and
// metadata.json, in the order the CLI lists them.
const std::vector<std::pair<std::string, Variant>>& variant_names();
Variant parse_variant(const std::string& name);  // a name in the table; else std::invalid_argument
std::string variant_name(Variant variant);

constexpr int64_t kNumClasses = 10;
constexpr int64_t kImageSide = 28;

// The MNIST statistics the modern variant normalises with. The TorchScript export writes the same numbers.
constexpr double kMnistMean = 0.1307;
constexpr double kMnistStd = 0.3081;

// What kind of computation a layer does, for summaries and diagrams.
enum class LayerKind { kConvolution, kSubsampling, kMaxPool, kFullyConnected, kRBF };
std::string layer_kind_name(LayerKind kind);

struct LayerActivation {
  std::string name;  // C1, S2, C3, S4, C5, F6, output
  LayerKind kind;
  torch::Tensor output;
};

// A weight as a plain dense tensor, under its state_dict name ("C3.weight").
struct NamedTensor {
  std::string name;
  torch::Tensor value;
  bool trainable;  // a parameter; false for fixed buffers such as the RBF prototypes
};

namespace detail {
template <typename Method>
struct CloneArgument;
template <typename Result, typename Class, typename Argument>
struct CloneArgument<Result (Class::*)(Argument) const> {
  using type = std::decay_t<Argument>;
};
}  // namespace detail

// Module::clone's device argument: c10::optional<Device> in LibTorch 1.x, std::optional<Device> in 2.x.
using OptionalDevice = detail::CloneArgument<decltype(&torch::nn::Module::clone)>::type;

// What both variants do. Every layer is registered under the paper's name (C1, S2, C3, S4, C5, F6, output),
// which are also the state_dict's prefixes.
class LeNet5Impl : public torch::nn::Module {
 public:
  virtual Variant variant() const = 0;

  // Builds the layers with fresh parameters; may run again (clone() runs it on the copy).
  virtual void reset() = 0;
  // Draws every parameter again by the variant's initialisation rule.
  virtual void reset_parameters() = 0;

  // [N,1,28,28] pixels in [0,1] -> scores [N,10].
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
  // The same computation, keeping every layer's output (after its activation).
  virtual std::vector<LayerActivation> forward_layers(const torch::Tensor& images) = 0;
  // The input mapping: [N,1,28,28] pixels in [0,1] -> what C1 sees.
  virtual torch::Tensor preprocess(const torch::Tensor& images) const = 0;
  // Mean training loss of a batch of forward()'s scores against class indices.
  virtual torch::Tensor loss(const torch::Tensor& scores, const torch::Tensor& targets) const = 0;

  // Stores the convolution kernels channels-last (NHWC), which makes every feature map channels-last too.
  // The same network and numbers; on CPU, oneDNN's convolutions and the pooling run faster that way.
  // It replaces the kernels' storage: build optimisers after it.
  void set_channels_last(bool enabled);
  bool channels_last() const { return channels_last_; }

  // The weights as plain dense tensors in the state_dict's order, index tables left out: classic C3's packed
  // kernels appear as the dense [16, 6, 5, 5] kernel, zero where the table has no connection.
  std::vector<NamedTensor> dense_tensors() const;

 protected:
  // Lays out the kernels that run as convolutions for set_channels_last (and for reset(), which keeps it).
  virtual void lay_out_kernels(bool channels_last) = 0;

  // Makes `copy`, a fresh network of this variant, a deep copy of this one: its layout, parameters and buffers
  // (moved to `device` where given, else cloned) and training mode. Module::clone's work for LeNet5Cloneable.
  std::shared_ptr<torch::nn::Module> copy_into(const std::shared_ptr<LeNet5Impl>& copy,
                                               const OptionalDevice& device) const;

 private:
  bool channels_last_ = false;
};

// Module::clone for a variant, as torch::nn::Cloneable gives it to LibTorch's modules. Cloneable itself cannot
// serve: since LibTorch 2.x it derives from Module non-virtually, so no class can be both a Cloneable and a
// LeNet5Impl (two Module bases). The copy is built fresh and takes the values by name.
template <typename Derived>
class LeNet5Cloneable : public LeNet5Impl {
 public:
  std::shared_ptr<torch::nn::Module> clone(const OptionalDevice& device = OptionalDevice()) const override {
    return copy_into(std::make_shared<Derived>(), device);
  }
};

struct LeNet5Options {
  /* implicit */ LeNet5Options(Variant variant = Variant::kModern) : variant_(variant) {}
  TORCH_ARG(Variant, variant);
};

// The network of the variant the options name (LeNet5ClassicImpl or LeNet5ModernImpl).
std::shared_ptr<LeNet5Impl> make_lenet5(const LeNet5Options& options);

// The holder callers pass around, as TORCH_MODULE would declare it, built by make_lenet5.
class LeNet5 : public torch::nn::ModuleHolder<LeNet5Impl> {
 public:
  explicit LeNet5(const LeNet5Options& options = {}) : ModuleHolder(make_lenet5(options)) {}
  /* implicit */ LeNet5(std::nullptr_t) : ModuleHolder(nullptr) {}
  /* implicit */ LeNet5(std::shared_ptr<LeNet5Impl> network) : ModuleHolder(std::move(network)) {}

  // A deep copy (Module::clone): the same variant and layout, equal parameters and buffers in tensors of its own.
  LeNet5 clone() const;
};

// conv(x) for a convolution whose kernel covers its whole input (C5: 5x5 kernels on 5x5 maps, no padding) as
// one matrix product over the flattened maps, several times faster than a convolution kernel on CPU,
// backward included. Other convolutions run conv->forward(x).
torch::Tensor full_field_convolution(torch::nn::Conv2d& conv, const torch::Tensor& x);

// Trainable parameters of a module (requires_grad), counted element by element.
int64_t count_trainable_parameters(const torch::nn::Module& module);

}  // namespace lenet5::model
