#include "lenet5/model/lenet5.h"

#include <stdexcept>
#include <type_traits>

#include "lenet5/model/classic.h"
#include "lenet5/model/modern.h"
#include "lenet5/model/paper_layers.h"

namespace lenet5::model {

const std::vector<std::pair<std::string, Variant>>& variant_names() {
  static const std::vector<std::pair<std::string, Variant>> table = {{"modern", Variant::kModern},
                                                                     {"classic", Variant::kClassic}};
  return table;
}

Variant parse_variant(const std::string& name) {
  for (const auto& [known, variant] : variant_names()) {
    if (known == name) return variant;
  }
  throw std::invalid_argument("unknown variant '" + name + "': expected modern or classic");
}

std::string variant_name(Variant variant) {
  for (const auto& [name, known] : variant_names()) {
    if (known == variant) return name;
  }
  return "?";
}

std::string layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConvolution: return "Convolution";
    case LayerKind::kSubsampling: return "Subsampling";
    case LayerKind::kMaxPool: return "MaxPool";
    case LayerKind::kFullyConnected: return "FullyConnected";
    case LayerKind::kRBF: return "EuclideanRBF";
  }
  return "?";
}

// ---- LeNet5Impl ----

void LeNet5Impl::set_channels_last(bool enabled) {
  channels_last_ = enabled;
  lay_out_kernels(enabled);
}

std::vector<NamedTensor> LeNet5Impl::dense_tensors() const {
  std::vector<NamedTensor> tensors;
  for (const auto& layer : named_children()) {
    const auto* sparse = layer.value()->as<SparseConv2dImpl>();
    for (const auto& parameter : layer.value()->named_parameters(/*recurse=*/false)) {
      const bool packed = sparse != nullptr && parameter.value().is_same(sparse->weight);
      tensors.push_back(
          {layer.key() + "." + parameter.key(), packed ? sparse->dense_weight() : parameter.value(), true});
    }
    for (const auto& buffer : layer.value()->named_buffers(/*recurse=*/false)) {
      if (buffer.value().is_floating_point())
        tensors.push_back({layer.key() + "." + buffer.key(), buffer.value(), false});
    }
  }
  return tensors;
}

std::shared_ptr<LeNet5Impl> make_lenet5(const LeNet5Options& options) {
  switch (options.variant()) {
    case Variant::kClassic: return std::make_shared<LeNet5ClassicImpl>();
    case Variant::kModern: return std::make_shared<LeNet5ModernImpl>();
  }
  throw std::invalid_argument("make_lenet5: unknown variant");
}

std::shared_ptr<torch::nn::Module> LeNet5Impl::copy_into(const std::shared_ptr<LeNet5Impl>& copy,
                                                         const OptionalDevice& device) const {
  torch::NoGradGuard no_grad;
  copy->set_channels_last(channels_last());
  const auto copied = [&](const torch::Tensor& tensor) {
    return device && tensor.device() != *device ? tensor.to(*device) : tensor.clone();
  };
  auto parameters = copy->named_parameters();
  for (const auto& item : named_parameters()) parameters[item.key()].set_data(copied(item.value()));
  auto buffers = copy->named_buffers();
  for (const auto& item : named_buffers()) buffers[item.key()].set_data(copied(item.value()));
  copy->train(is_training());
  return copy;
}

LeNet5 LeNet5::clone() const {
  auto copy = std::dynamic_pointer_cast<LeNet5Impl>(ptr()->clone());
  TORCH_CHECK(copy != nullptr, "LeNet5::clone: the copy is not a LeNet5Impl");
  return LeNet5(std::move(copy));
}

// ---- shared helpers ----

torch::Tensor full_field_convolution(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const auto& weight = conv->weight;
  const auto& o = conv->options;
  const bool covers_input = x.dim() == 4 && x.size(2) == weight.size(2) && x.size(3) == weight.size(3);
  // Unqualified visit: padding is a c10::variant in LibTorch 1.13 and a std::variant in 2.x.
  const bool unpadded = visit(
      [](const auto& padding) {
        if constexpr (std::is_same_v<std::decay_t<decltype(padding)>, torch::ExpandingArray<2>>) {
          return padding->at(0) == 0 && padding->at(1) == 0;
        } else {
          return false;
        }
      },
      o.padding());
  const bool plain = unpadded && o.groups() == 1 && o.stride()->at(0) == 1 && o.stride()->at(1) == 1 &&
                     o.dilation()->at(0) == 1 && o.dilation()->at(1) == 1;
  if (!covers_input || !plain) return conv->forward(x);
  const auto out_channels = weight.size(0);
  auto flat = torch::addmm(conv->bias, x.flatten(1), weight.reshape({out_channels, -1}).t());
  return flat.view({x.size(0), out_channels, 1, 1});
}

int64_t count_trainable_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& parameter : module.parameters()) {
    if (parameter.requires_grad()) total += parameter.numel();
  }
  return total;
}

}  // namespace lenet5::model
