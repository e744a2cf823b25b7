#include "lenet5/engine/device.h"

#include <torch/version.h>

#include <stdexcept>

namespace lenet5::engine {

torch::Device resolve_device(const std::string& name) {
  const bool cuda_available = torch::cuda::is_available();
  if (name == "auto") return cuda_available ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) != 0) {
    throw std::invalid_argument("--device: unknown device '" + name + "': expected auto, cpu, cuda or cuda:N");
  }
  int index = 0;
  if (name.size() > 4) {
    const std::string digits = name.substr(5);
    if (name[4] != ':' || digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument("--device: malformed device '" + name + "': expected cuda or cuda:N");
    }
    index = std::stoi(digits);
  }
  // A device that is not there is a runtime error (exit 1), like a missing file: the flag itself is valid.
  if (!cuda_available) {
    throw std::runtime_error("--device " + name + ": CUDA is not available (this LibTorch build " +
                             std::string(torch::cuda::device_count() == 0 ? "sees no CUDA device" : "lacks CUDA") +
                             "); use --device cpu");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw std::runtime_error("--device " + name + ": no such GPU, " + std::to_string(count) + " visible");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string describe_device(const torch::Device& device) { return device.str(); }

void move_model_to(model::LeNet5& net, const torch::Device& device) {
  net->to(device);
  net->set_channels_last(device.is_cpu());
}

// LibTorch's own version string (torch/version.h; 1.12 and later, 2.x included).
std::string torch_version() { return TORCH_VERSION; }

}  // namespace lenet5::engine
