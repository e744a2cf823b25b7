// register_parameter, register_buffer and register_module for a reset() that may run again. LibTorch's
// register_* refuse a name already taken (its own modules run reset() once: from the constructor, or from
// clone() after it cleared everything); on a second reset() these replace what the first one registered,
// keeping the names and their order.
#pragma once

#include <torch/torch.h>

#include <string>

namespace lenet5::model::detail {

// A parameter registered before keeps its tensor (so its name and place stay) and takes the new values.
inline torch::Tensor register_or_replace_parameter(torch::nn::Module& module, const std::string& name,
                                                   const torch::Tensor& value) {
  auto registered = module.named_parameters(/*recurse=*/false);
  if (auto* existing = registered.find(name)) {
    existing->set_data(value);
    existing->mutable_grad().reset();  // a gradient of the old values, perhaps of another shape
    return *existing;
  }
  return module.register_parameter(name, value);
}

inline torch::Tensor register_or_replace_buffer(torch::nn::Module& module, const std::string& name,
                                                const torch::Tensor& value) {
  auto registered = module.named_buffers(/*recurse=*/false);
  if (auto* existing = registered.find(name)) {
    existing->set_data(value);
    return *existing;
  }
  return module.register_buffer(name, value);
}

template <typename Holder>
Holder register_or_replace_module(torch::nn::Module& module, const std::string& name, Holder holder) {
  if (module.named_children().contains(name)) return Holder(module.replace_module(name, holder));
  return Holder(module.register_module(name, holder));
}

}  // namespace lenet5::model::detail
