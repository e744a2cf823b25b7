#pragma once

#include <torch/torch.h>

#include <string>

namespace lenet5::engine {

// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N". Throws std::invalid_argument naming
// the value when it is malformed or the device is not there.
torch::Device resolve_device(const std::string& name);

// "cpu", or "cuda:0 (NVIDIA H100 ...)" where the name is known.
std::string describe_device(const torch::Device& device);

std::string torch_version();

}  // namespace lenet5::engine
