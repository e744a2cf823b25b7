#include "lenet5/engine/flat_adamw.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace lenet5::engine {
namespace {

// torch::optim keys each parameter's state by its TensorImpl: as the pointer's text in LibTorch 1.x (written by
// c10::guts::to_string, which 2.x removed) and as the pointer itself (void*) in 2.x. The key type is read off
// the map, so the same source builds against both and produces the key its torch::optim looks up.
using StateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <typename Key>
Key state_key_of(void* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;  // exactly what c10::guts::to_string(TensorImpl*) wrote
    text << impl;
    return text.str();
  } else {
    return impl;
  }
}

StateKey state_key(const torch::Tensor& parameter) { return state_key_of<StateKey>(parameter.unsafeGetTensorImpl()); }

torch::Tensor view_of(const torch::Tensor& flat, const torch::Tensor& like, int64_t offset) {
  return flat.as_strided(like.sizes(), like.strides(), offset);
}

bool is_in_flat_buffer(const torch::Tensor& gradient, const torch::Tensor& flat, int64_t offset) {
  return gradient.defined() && gradient.is_alias_of(flat) && gradient.storage_offset() == offset;
}

// The AdamW update, element by element, in the order torch::optim::AdamW applies it.
void adamw_update_cpu(float* parameters, const float* gradients, float* exp_avg, float* exp_avg_sq, int64_t size,
                      const torch::optim::AdamWOptions& options, int64_t step) {
  const auto [beta1, beta2] = options.betas();
  const float decay = static_cast<float>(1 - options.lr() * options.weight_decay());
  const float keep1 = static_cast<float>(beta1), take1 = static_cast<float>(1 - beta1);
  const float keep2 = static_cast<float>(beta2), take2 = static_cast<float>(1 - beta2);
  const float sqrt_correction2 = static_cast<float>(std::sqrt(1 - std::pow(beta2, static_cast<double>(step))));
  const float step_size = static_cast<float>(options.lr() / (1 - std::pow(beta1, static_cast<double>(step))));
  const float eps = static_cast<float>(options.eps());
  at::parallel_for(0, size, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = gradients[i];
      const float m = exp_avg[i] * keep1 + g * take1;
      const float v = exp_avg_sq[i] * keep2 + g * g * take2;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      parameters[i] = parameters[i] * decay - step_size * (m / (std::sqrt(v) / sqrt_correction2 + eps));
    }
  });
}

}  // namespace

void clear_gradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& parameter : group.params()) parameter.mutable_grad().reset();
  }
}

FlatAdamW::FlatAdamW(std::vector<torch::Tensor> parameters, torch::optim::AdamWOptions options)
    : torch::optim::AdamW(std::move(parameters), options) {
  if (options.amsgrad() || param_groups_.size() != 1) return;
  const auto& group = param_groups_.front().params();
  if (group.empty()) return;
  int64_t total = 0;
  for (const auto& p : group) {
    if (p.dtype() != group.front().dtype() || p.device() != group.front().device() ||
        !p.is_non_overlapping_and_dense()) {
      return;
    }
    offsets_.push_back(total);
    total += p.numel();
  }
  torch::NoGradGuard no_grad;
  const auto flat_options = group.front().options();
  flat_parameters_ = torch::empty({total}, flat_options);
  flat_gradients_ = torch::zeros({total}, flat_options);
  flat_exp_avg_ = torch::zeros({total}, flat_options);
  flat_exp_avg_sq_ = torch::zeros({total}, flat_options);
  for (size_t i = 0; i < group.size(); ++i) {
    auto p = group[i];
    auto view = view_of(flat_parameters_, p, offsets_[i]);
    view.copy_(p);
    p.set_data(view);  // same tensor (and state key) for the module and the optimiser, now flat-backed
  }
  flat_ = true;
  bind_state_to_flat_buffers();
}

FlatAdamW::FlatAdamW(const torch::OrderedDict<std::string, torch::Tensor>& named_parameters,
                     torch::optim::AdamWOptions options)
    : FlatAdamW(named_parameters.values(), options) {
  names_ = named_parameters.keys();
}

torch::Tensor FlatAdamW::gradient_buffer() const {
  TORCH_CHECK(flat_, "FlatAdamW::gradient_buffer: the parameters are not in one flat buffer");
  return flat_gradients_;
}

torch::Tensor FlatAdamW::gradient_view(size_t i) const {
  TORCH_CHECK(flat_, "FlatAdamW::gradient_view: the parameters are not in one flat buffer");
  return view_of(flat_gradients_, param_groups_.front().params().at(i), offsets_.at(i));
}

void FlatAdamW::adopt_gradient_buffer() {
  TORCH_CHECK(flat_, "FlatAdamW::adopt_gradient_buffer: the parameters are not in one flat buffer");
  auto& group = param_groups_.front().params();
  for (size_t i = 0; i < group.size(); ++i) group[i].mutable_grad() = gradient_view(i);
}

void FlatAdamW::check_parameters_use_flat_buffer() const {
  const auto& group = param_groups_.front().params();
  for (size_t i = 0; i < group.size(); ++i) {
    const auto& p = group[i];
    if (p.is_alias_of(flat_parameters_) && p.storage_offset() == offsets_[i]) continue;
    const std::string name = i < names_.size() ? names_[i] : "#" + std::to_string(i) + " " + c10::str(p.sizes());
    throw std::logic_error("FlatAdamW: parameter " + name +
                           " no longer uses the optimiser's buffer (set_channels_last or to() after building the "
                           "optimiser?): its updates would be lost; build the optimiser after the last layout or "
                           "device change");
  }
}

void FlatAdamW::bind_state_to_flat_buffers() {
  torch::NoGradGuard no_grad;
  const auto& group = param_groups_.front().params();
  std::optional<int64_t> common_step;
  for (size_t i = 0; i < group.size(); ++i) {
    const auto& p = group[i];
    auto exp_avg = view_of(flat_exp_avg_, p, offsets_[i]);
    auto exp_avg_sq = view_of(flat_exp_avg_sq_, p, offsets_[i]);
    auto found = state_.find(state_key(p));
    int64_t step = 0;
    if (found == state_.end()) {
      exp_avg.zero_();
      exp_avg_sq.zero_();
    } else {
      auto& loaded = static_cast<torch::optim::AdamWParamState&>(*found->second);
      exp_avg.copy_(loaded.exp_avg());
      exp_avg_sq.copy_(loaded.exp_avg_sq());
      step = loaded.step();
    }
    if (common_step && *common_step != step) flat_ = false;  // parameters stepped apart: AdamW's own step
    common_step = step;
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    state->step(step);
    state->exp_avg(exp_avg);
    state->exp_avg_sq(exp_avg_sq);
    state_[state_key(p)] = std::move(state);
  }
}

void FlatAdamW::load(torch::serialize::InputArchive& archive) {
  torch::optim::AdamW::load(archive);
  if (flat_) bind_state_to_flat_buffers();
}

torch::Tensor FlatAdamW::step(LossClosure closure) {
  if (!flat_) return torch::optim::AdamW::step(std::move(closure));
  check_parameters_use_flat_buffer();
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  torch::NoGradGuard no_grad;
  auto& group = param_groups_.front();
  for (const auto& p : group.params()) {
    if (!p.grad().defined()) {
      // AdamW skips such a parameter, so the parameters' step counts part: from now on, AdamW's own step.
      flat_ = false;
      torch::optim::AdamW::step();
      return loss;
    }
  }
  for (size_t i = 0; i < group.params().size(); ++i) {
    const auto& p = group.params()[i];
    if (is_in_flat_buffer(p.grad(), flat_gradients_, offsets_[i])) continue;  // gathered already
    view_of(flat_gradients_, p, offsets_[i]).copy_(p.grad());
  }
  int64_t step = 0;
  for (const auto& p : group.params()) {
    auto& state = static_cast<torch::optim::AdamWParamState&>(*state_.at(state_key(p)));
    state.step(state.step() + 1);
    step = state.step();
  }
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
  if (flat_parameters_.device().is_cpu() && flat_parameters_.scalar_type() == torch::kFloat32) {
    adamw_update_cpu(flat_parameters_.data_ptr<float>(), flat_gradients_.data_ptr<float>(),
                     flat_exp_avg_.data_ptr<float>(), flat_exp_avg_sq_.data_ptr<float>(), flat_parameters_.numel(),
                     options, step);
    return loss;
  }
  // Other devices and dtypes: the same update as a few whole-buffer operations.
  const auto [beta1, beta2] = options.betas();
  const double correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  if (options.weight_decay() != 0) flat_parameters_.mul_(1 - options.lr() * options.weight_decay());
  flat_exp_avg_.mul_(beta1).add_(flat_gradients_, 1 - beta1);
  flat_exp_avg_sq_.mul_(beta2).addcmul_(flat_gradients_, flat_gradients_, 1 - beta2);
  const auto denominator = (flat_exp_avg_sq_.sqrt() / std::sqrt(correction2)).add_(options.eps());
  flat_parameters_.addcdiv_(flat_exp_avg_, denominator, -options.lr() / correction1);
  return loss;
}

}  // namespace lenet5::engine
