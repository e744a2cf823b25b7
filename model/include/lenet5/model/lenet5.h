// LeNet-5 (LeCun et al., 1998) as a torch::nn::Module, in two variants:
//   classic: the published network (32x32 input, trainable subsampling, C3 connection table, scaled tanh,
//            Euclidean RBF output against fixed digit bitmaps, the paper's initialisation);
//   modern:  ReLU, 2x2 max pooling, dense C3, linear 10-way output (softmax in the loss).
// Both take float32 [N,1,28,28] with pixel values in [0,1] (ink high, as in MNIST) and return scores [N,10]
// where higher means more likely. The variant's input preprocessing happens inside forward().
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "lenet5/model/max_pool.h"

namespace lenet5::model {

enum class Variant { kClassic, kModern };

// The one name table of Variant: the names on the command line and in checkpoints, config.json and
// metadata.json, in the order the CLI lists them.
const std::vector<std::pair<std::string, Variant>>& variant_names();
Variant parse_variant(const std::string& name);  // a name in the table; else std::invalid_argument
std::string variant_name(Variant variant);

constexpr int64_t kNumClasses = 10;
constexpr int64_t kImageSide = 28;

// The paper's squashing function A tanh(S a) and input mapping (background -0.1, ink 1.175), and the MNIST
// statistics the modern variant normalises with. The TorchScript export writes the same numbers.
constexpr double kSquashAmplitude = 1.7159;
constexpr double kSquashSlope = 2.0 / 3.0;
constexpr double kClassicBackground = -0.1;
constexpr double kClassicInkRange = 1.275;
constexpr double kMnistMean = 0.1307;
constexpr double kMnistStd = 0.3081;

// The paper's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3.
torch::Tensor scaled_tanh(const torch::Tensor& x);

// Which S2 maps feed each C3 map (the paper's table I).
const std::vector<std::vector<int64_t>>& c3_connection_table();

// The fixed 7x12 (+1/-1) digit bitmaps of the classic RBF output, [10, 84], row-major 12 rows of 7.
torch::Tensor rbf_prototypes();

// S2/S4: sum of each 2x2 block times a trainable coefficient plus a trainable bias, per map.
class SubsamplingImpl : public torch::nn::Module {
 public:
  explicit SubsamplingImpl(int64_t channels);
  void reset_parameters(double bound);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // [channels]
  torch::Tensor bias;    // [channels]
};
TORCH_MODULE(Subsampling);

// A 5x5 convolution with partial connectivity. Only the kernels of existing connections are parameters
// (packed as [connections, k, k]), so absent connections are exactly zero by construction.
class SparseConv2dImpl : public torch::nn::Module {
 public:
  SparseConv2dImpl(int64_t in_channels, std::vector<std::vector<int64_t>> table, int64_t kernel_size);
  void reset_parameters();  // uniform +-2.4/F, F = fan-in of each output map
  // The equivalent dense kernel [out, in, k, k], zero where there is no connection.
  torch::Tensor dense_weight() const;
  torch::Tensor connection_mask() const;  // [out, in], 1 where connected
  torch::Tensor forward(const torch::Tensor& x);

  torch::MemoryFormat dense_weight_format = torch::MemoryFormat::Contiguous;  // layout forward() convolves with

  int64_t in_channels;
  int64_t out_channels;
  int64_t kernel_size;
  std::vector<std::vector<int64_t>> table;
  torch::Tensor weight;         // [connections, k, k]
  torch::Tensor bias;           // [out]
  torch::Tensor gather_index;   // buffer [out*in]: row of [weight; zeros] feeding each (out, in) pair
};
TORCH_MODULE(SparseConv2d);

// Euclidean RBF units: y_i = sum_j (x_j - w_ij)^2 with fixed w; returns the scores -y (higher = closer).
class EuclideanRBFImpl : public torch::nn::Module {
 public:
  explicit EuclideanRBFImpl(torch::Tensor prototypes);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor prototypes;  // buffer [classes, features], not trained
};
TORCH_MODULE(EuclideanRBF);

struct LeNet5Options {
  /* implicit */ LeNet5Options(Variant variant = Variant::kModern) : variant_(variant) {}
  TORCH_ARG(Variant, variant);
};

// What kind of computation a layer does, for summaries and diagrams.
enum class LayerKind { kConvolution, kSubsampling, kMaxPool, kFullyConnected, kRBF };
std::string layer_kind_name(LayerKind kind);

struct LayerActivation {
  std::string name;  // C1, S2, C3, S4, C5, F6, output
  LayerKind kind;
  torch::Tensor output;
};

class LeNet5Impl : public torch::nn::Module {
 public:
  explicit LeNet5Impl(LeNet5Options options = {});
  void reset();

  torch::Tensor forward(const torch::Tensor& images);
  // The same computation, keeping every layer's output (after its activation).
  std::vector<LayerActivation> forward_layers(const torch::Tensor& images);
  // The variant's input mapping: [N,1,28,28] pixels in [0,1] -> what C1 sees.
  torch::Tensor preprocess(const torch::Tensor& images) const;

  // Stores the convolution kernels channels-last (NHWC), which makes every feature map channels-last too.
  // The same network and numbers; on CPU, oneDNN's convolutions and the pooling run faster that way.
  void set_channels_last(bool enabled);
  bool channels_last() const { return channels_last_; }

  LeNet5Options options;

  // Registered as C1, S2, C3, S4, C5, F6, output; the variant decides which of the alternatives exist.
  torch::nn::Conv2d C1{nullptr};
  Subsampling S2_subsampling{nullptr}, S4_subsampling{nullptr};  // classic
  MaxPool2x2 S2_maxpool{nullptr}, S4_maxpool{nullptr};             // modern
  SparseConv2d C3_sparse{nullptr};                                 // classic
  torch::nn::Conv2d C3_dense{nullptr};                             // modern
  torch::nn::Conv2d C5{nullptr};
  torch::nn::Linear F6{nullptr};
  EuclideanRBF output_rbf{nullptr};      // classic
  torch::nn::Linear output_linear{nullptr};  // modern

 private:
  bool channels_last_ = false;
};
TORCH_MODULE(LeNet5);

// conv(x) for a convolution whose kernel covers its whole input (C5: 5x5 kernels on 5x5 maps, no padding) as
// one matrix product over the flattened maps, several times faster than a convolution kernel on CPU,
// backward included. Other convolutions run conv->forward(x).
torch::Tensor full_field_convolution(torch::nn::Conv2d& conv, const torch::Tensor& x);

// Trainable parameters of a module (requires_grad), counted element by element.
int64_t count_trainable_parameters(const torch::nn::Module& module);

}  // namespace lenet5::model
