#include "lenet5/model/paper_layers.h"

#include "lenet5/model/conv5x5.h"

#include "registration.h"

namespace lenet5::model {

using detail::register_or_replace_buffer;
using detail::register_or_replace_parameter;

torch::Tensor scaled_tanh(const torch::Tensor& x) { return torch::tanh(x * kSquashSlope) * kSquashAmplitude; }

void paper_uniform_(torch::Tensor tensor, double fan_in) {
  const double bound = paper_init_bound(fan_in);
  torch::NoGradGuard no_grad;
  tensor.uniform_(-bound, bound);
}

torch::Tensor rbf_prototypes() {
  const auto& bitmaps = rbf_digit_bitmaps();
  const auto digits = static_cast<int64_t>(bitmaps.size());
  auto codes = torch::empty({digits, kBitmapRows * kBitmapColumns}, torch::kFloat32);
  auto access = codes.accessor<float, 2>();
  for (int64_t digit = 0; digit < digits; ++digit) {
    for (int row = 0; row < kBitmapRows; ++row) {
      for (int col = 0; col < kBitmapColumns; ++col) {
        access[digit][row * kBitmapColumns + col] = bitmaps[static_cast<size_t>(digit)][row][col] == '#' ? 1.0f : -1.0f;
      }
    }
  }
  return codes;
}

// ---- Subsampling ----

SubsamplingImpl::SubsamplingImpl(const SubsamplingOptions& options_) : options(options_) { reset(); }

void SubsamplingImpl::reset() {
  TORCH_CHECK(options.channels() > 0, "Subsampling: channels must be positive");
  weight = register_or_replace_parameter(*this, "weight", torch::empty({options.channels()}));
  bias = register_or_replace_parameter(*this, "bias", torch::empty({options.channels()}));
  reset_parameters();
}

void SubsamplingImpl::reset_parameters() {
  constexpr double kBlockInputs = 4;
  paper_uniform_(weight, kBlockInputs);
  paper_uniform_(bias, kBlockInputs);
}

torch::Tensor SubsamplingImpl::forward(const torch::Tensor& x) {
  // avg_pool * 4 is the sum of the 2x2 block.
  auto summed = torch::avg_pool2d(x, 2, 2) * 4.0;
  return summed * weight.view({1, -1, 1, 1}) + bias.view({1, -1, 1, 1});
}

void SubsamplingImpl::pretty_print(std::ostream& stream) const {
  stream << "lenet5::model::Subsampling(channels=" << options.channels() << ")";
}

// ---- SparseConv2d ----

SparseConv2dImpl::SparseConv2dImpl(const SparseConv2dOptions& options_) : options(options_) { reset(); }

void SparseConv2dImpl::reset() {
  const int64_t in_channels = options.in_channels();
  const int64_t out_channels = this->out_channels();
  const int64_t k = options.kernel_size();
  TORCH_CHECK(in_channels > 0 && k > 0, "SparseConv2d: in_channels and kernel_size must be positive");
  int64_t connections = 0;
  for (const auto& inputs : options.table()) connections += static_cast<int64_t>(inputs.size());
  // Index `connections` selects the extra zero row appended in dense_weight().
  std::vector<int64_t> index(static_cast<size_t>(out_channels * in_channels), connections);
  int64_t next = 0;
  for (int64_t out = 0; out < out_channels; ++out) {
    for (int64_t in : options.table()[static_cast<size_t>(out)]) {
      TORCH_CHECK(in >= 0 && in < in_channels, "SparseConv2d: connection table: input map ", in, " out of range");
      auto& slot = index[static_cast<size_t>(out * in_channels + in)];
      TORCH_CHECK(slot == connections, "SparseConv2d: connection table: output map ", out, " reads map ", in, " twice");
      slot = next++;
    }
  }
  weight = register_or_replace_parameter(*this, "weight", torch::empty({connections, k, k}));
  bias = register_or_replace_parameter(*this, "bias", torch::empty({out_channels}));
  gather_index = register_or_replace_buffer(*this, "gather_index", torch::tensor(index, torch::kInt64));
  reset_parameters();
}

void SparseConv2dImpl::reset_parameters() {
  const int64_t area = options.kernel_size() * options.kernel_size();
  int64_t row = 0;
  for (int64_t out = 0; out < out_channels(); ++out) {
    const auto inputs = static_cast<int64_t>(options.table()[static_cast<size_t>(out)].size());
    const auto fan_in = static_cast<double>(inputs * area);
    paper_uniform_(weight.narrow(0, row, inputs), fan_in);
    paper_uniform_(bias.narrow(0, out, 1), fan_in);
    row += inputs;
  }
}

torch::Tensor SparseConv2dImpl::dense_weight() const {
  const int64_t k = options.kernel_size();
  auto with_zero_row = torch::cat({weight, torch::zeros({1, k, k}, weight.options())});
  return with_zero_row.index_select(0, gather_index).view({out_channels(), options.in_channels(), k, k});
}

torch::Tensor SparseConv2dImpl::connection_mask() const {
  const auto connections = weight.size(0);
  return gather_index.lt(connections).view({out_channels(), options.in_channels()});
}

torch::Tensor SparseConv2dImpl::forward(const torch::Tensor& x) {
  const auto format = channels_last_ ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  return conv5x5(x, dense_weight().contiguous(format), bias);  // torch::conv2d where it has no kernels
}

void SparseConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "lenet5::model::SparseConv2d(" << options.in_channels() << ", " << out_channels()
         << ", kernel_size=" << options.kernel_size() << ", connections=" << weight.size(0) << ")";
}

// ---- EuclideanRBF ----

EuclideanRBFImpl::EuclideanRBFImpl(const EuclideanRBFOptions& options_) : options(options_) { reset(); }

void EuclideanRBFImpl::reset() {
  TORCH_CHECK(options.prototypes().dim() == 2, "EuclideanRBF: prototypes must be [classes, features]");
  // A copy: the buffer moves with the module (to(), clone()) while the options keep what they were given.
  prototypes = register_or_replace_buffer(*this, "prototypes", options.prototypes().detach().clone());
}

torch::Tensor EuclideanRBFImpl::forward(const torch::Tensor& x) {
  auto distance = (x.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(2);
  return -distance;
}

void EuclideanRBFImpl::pretty_print(std::ostream& stream) const {
  stream << "lenet5::model::EuclideanRBF(features=" << prototypes.size(1) << ", classes=" << prototypes.size(0) << ")";
}

}  // namespace lenet5::model
