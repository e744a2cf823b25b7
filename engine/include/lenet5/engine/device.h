#pragma once

#include <torch/torch.h>

#include <string>

#include "lenet5/model/lenet5.h"

namespace lenet5::engine {

// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N". Throws std::invalid_argument naming the
// value when it is malformed, std::runtime_error when the device is not there (CLI exit codes 2 and 1).
torch::Device resolve_device(const std::string& name);

// "cpu", or "cuda:0 (NVIDIA H100 ...)" where the name is known.
std::string describe_device(const torch::Device& device);

std::string torch_version();

// Moves `net` to `device` in the layout that runs fastest there: channels-last on CPU, where oneDNN's
// convolutions and the pooling kernel are quicker on NHWC maps (scripts/bench.sh measures it).
void move_model_to(model::LeNet5& net, const torch::Device& device);

}  // namespace lenet5::engine
