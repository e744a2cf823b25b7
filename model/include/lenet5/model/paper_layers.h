// The layers of the classic LeNet-5 that LibTorch does not have, written like LibTorch's own modules
// (options + TORCH_ARG, XxxImpl : Cloneable<XxxImpl>, TORCH_MODULE, a reset() that may run again).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <ostream>
#include <vector>

#include "lenet5/model/paper_tables.h"

namespace lenet5::model {

// The paper's squashing function f(a) = A tanh(S a).
torch::Tensor scaled_tanh(const torch::Tensor& x);

// The paper's initialisation of `tensor`: uniform in [-2.4/F, 2.4/F].
void paper_uniform_(torch::Tensor tensor, double fan_in);

// The RBF output's digit codes as a tensor [10, 84] of +1/-1, each bitmap read row by row.
torch::Tensor rbf_prototypes();

// ---- Subsampling (S2, S4) ----

struct SubsamplingOptions {
  /* implicit */ SubsamplingOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
};

// The sum of each 2x2 block times a trainable coefficient plus a trainable bias, one pair per map.
class SubsamplingImpl : public torch::nn::Cloneable<SubsamplingImpl> {
 public:
  explicit SubsamplingImpl(const SubsamplingOptions& options_);
  void reset() override;
  void reset_parameters();  // uniform +-2.4/4: each unit reads a 2x2 block
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  SubsamplingOptions options;
  torch::Tensor weight;  // [channels]
  torch::Tensor bias;    // [channels]
};
TORCH_MODULE(Subsampling);

// ---- SparseConv2d (C3) ----

struct SparseConv2dOptions {
  SparseConv2dOptions(int64_t in_channels, std::vector<std::vector<int64_t>> table, int64_t kernel_size)
      : in_channels_(in_channels), table_(std::move(table)), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  // table[o] lists the input maps output map o reads; the number of output maps is table.size().
  TORCH_ARG(std::vector<std::vector<int64_t>>, table);
  TORCH_ARG(int64_t, kernel_size);
};

// A convolution with partial connectivity. Only the kernels of existing connections are parameters (packed
// as [connections, k, k] in the table's order), so absent connections are exactly zero by construction.
class SparseConv2dImpl : public torch::nn::Cloneable<SparseConv2dImpl> {
 public:
  explicit SparseConv2dImpl(const SparseConv2dOptions& options_);
  void reset() override;
  void reset_parameters();  // uniform +-2.4/F, F = fan-in of each output map
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  int64_t out_channels() const { return static_cast<int64_t>(options.table().size()); }
  // The equivalent dense kernel [out, in, k, k], zero where there is no connection.
  torch::Tensor dense_weight() const;
  torch::Tensor connection_mask() const;  // [out, in], true where connected
  // Whether forward() convolves with the dense kernel laid out channels-last (the network's layout switch).
  void set_channels_last(bool enabled) { channels_last_ = enabled; }

  SparseConv2dOptions options;
  torch::Tensor weight;        // [connections, k, k]
  torch::Tensor bias;          // [out]
  torch::Tensor gather_index;  // buffer [out*in]: row of [weight; zeros] feeding each (out, in) pair

 private:
  bool channels_last_ = false;
};
TORCH_MODULE(SparseConv2d);

// ---- EuclideanRBF (output) ----

struct EuclideanRBFOptions {
  /* implicit */ EuclideanRBFOptions(torch::Tensor prototypes) : prototypes_(std::move(prototypes)) {}
  TORCH_ARG(torch::Tensor, prototypes);  // [classes, features], fixed
};

// Euclidean RBF units: y_i = sum_j (x_j - w_ij)^2 with fixed w; returns the scores -y (higher = closer).
class EuclideanRBFImpl : public torch::nn::Cloneable<EuclideanRBFImpl> {
 public:
  explicit EuclideanRBFImpl(const EuclideanRBFOptions& options_);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  EuclideanRBFOptions options;
  torch::Tensor prototypes;  // buffer [classes, features], a copy of options.prototypes(), not trained
};
TORCH_MODULE(EuclideanRBF);

}  // namespace lenet5::model
