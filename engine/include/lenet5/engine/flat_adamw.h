// AdamW that updates all parameters at once, and the gradient reset of the training step.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace lenet5::engine {

// Sets the optimiser's gradients to "none" rather than zeroing them: backward then stores each new gradient
// instead of adding it to a zero tensor (PyTorch 2's zero_grad default). The training step of trainer and bench.
void clear_gradients(torch::optim::Optimizer& optimizer);

// torch::optim::AdamW (same options, same update, same saved state) for a small network: the parameters,
// their gradients and moment estimates live in flat buffers, so a step is one pass over memory instead of a
// dozen tensor operations per parameter. For LeNet-5, whose ten parameters are tiny, that per-operation overhead is
// most of the optimiser's time.
//
// Build it after the parameters have their final device and layout: it rebinds each parameter to a view of
// the flat buffer (the module keeps working as before). Whatever replaces a parameter's storage afterwards
// (set_channels_last, to()) would cut it off from the updates, so step() refuses to run then and says which.
// amsgrad, several parameter groups, or parameters of mixed dtype/device fall back to AdamW's own step.
class FlatAdamW : public torch::optim::AdamW {
 public:
  FlatAdamW(std::vector<torch::Tensor> parameters, torch::optim::AdamWOptions options);
  // The same, naming the parameters in its errors ("C3.weight") rather than numbering them.
  FlatAdamW(const torch::OrderedDict<std::string, torch::Tensor>& named_parameters, torch::optim::AdamWOptions options);

  torch::Tensor step(LossClosure closure = nullptr) override;
  void load(torch::serialize::InputArchive& archive) override;

  bool is_flat() const { return flat_; }
  // For those who fill the flat gradient buffer themselves (data-parallel training all-reduces it there): the buffer,
  // where parameter i's gradient starts in it and its view there (the parameter's shape and strides), and, once it
  // is filled, making each parameter's gradient its view of the buffer as it stands. Only when is_flat().
  torch::Tensor gradient_buffer() const;
  const std::vector<int64_t>& offsets() const { return offsets_; }
  torch::Tensor gradient_view(size_t i) const;
  void adopt_gradient_buffer();

 private:
  void bind_state_to_flat_buffers();
  void check_parameters_use_flat_buffer() const;

  bool flat_ = false;
  torch::Tensor flat_parameters_, flat_gradients_, flat_exp_avg_, flat_exp_avg_sq_;
  std::vector<int64_t> offsets_;    // where each parameter starts in the flat buffers
  std::vector<std::string> names_;  // for errors; empty when built from unnamed parameters
};

}  // namespace lenet5::engine
