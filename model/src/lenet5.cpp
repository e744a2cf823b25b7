#include "lenet5/model/lenet5.h"

#include <stdexcept>
#include <type_traits>

namespace lenet5::model {
namespace {

constexpr int64_t kPaperPadding = 2;  // 28x28 digits centred in a 32x32 field

// The paper's initialisation: uniform in [-2.4/F, 2.4/F], F = fan-in.
void init_uniform_fan_in(torch::Tensor& tensor, double fan_in) {
  const double bound = 2.4 / fan_in;
  torch::NoGradGuard no_grad;
  tensor.uniform_(-bound, bound);
}

// Stylised 7-wide, 12-high digits; '#' is +1, '.' is -1.
constexpr std::array<std::array<const char*, 12>, 10> kDigitBitmaps = {{
    {".......", "..###..", ".#...#.", "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", ".#...#.", "..###..", "......."},
    {".......", "...#...", "..##...", ".#.#...", "...#...", "...#...", "...#...", "...#...", "...#...", "...#...", ".#####.", "......."},
    {".......", ".#####.", "#.....#", "......#", ".....#.", "....#..", "...#...", "..#....", ".#.....", "#......", "#######", "......."},
    {".......", "#######", ".....#.", "....#..", "...#...", "..###..", ".....#.", "......#", "......#", "#.....#", ".#####.", "......."},
    {".......", ".....#.", "....##.", "...#.#.", "..#..#.", ".#...#.", "#....#.", "#######", ".....#.", ".....#.", ".....#.", "......."},
    {".......", "#######", "#......", "#......", "######.", "......#", "......#", "......#", "......#", "#.....#", ".#####.", "......."},
    {".......", "..####.", ".#.....", "#......", "#......", "######.", "#.....#", "#.....#", "#.....#", "#.....#", ".#####.", "......."},
    {".......", "#######", "......#", ".....#.", "....#..", "...#...", "..#....", "..#....", "..#....", "..#....", "..#....", "......."},
    {".......", ".#####.", "#.....#", "#.....#", "#.....#", ".#####.", "#.....#", "#.....#", "#.....#", "#.....#", ".#####.", "......."},
    {".......", ".#####.", "#.....#", "#.....#", "#.....#", "#.....#", ".######", "......#", "......#", ".....#.", ".####..", "......."},
}};

}  // namespace

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

torch::Tensor scaled_tanh(const torch::Tensor& x) { return torch::tanh(x * kSquashSlope) * kSquashAmplitude; }

const std::vector<std::vector<int64_t>>& c3_connection_table() {
  static const std::vector<std::vector<int64_t>> table = {
      {0, 1, 2},    {1, 2, 3},    {2, 3, 4},    {3, 4, 5},    {0, 4, 5},    {0, 1, 5},    {0, 1, 2, 3},
      {1, 2, 3, 4}, {2, 3, 4, 5}, {0, 3, 4, 5}, {0, 1, 4, 5}, {0, 1, 2, 5}, {0, 1, 3, 4}, {1, 2, 4, 5},
      {0, 2, 3, 5}, {0, 1, 2, 3, 4, 5}};
  return table;
}

torch::Tensor rbf_prototypes() {
  auto codes = torch::empty({kNumClasses, 84}, torch::kFloat32);
  auto access = codes.accessor<float, 2>();
  for (int64_t digit = 0; digit < kNumClasses; ++digit) {
    for (int row = 0; row < 12; ++row) {
      for (int col = 0; col < 7; ++col) {
        access[digit][row * 7 + col] = kDigitBitmaps[digit][row][col] == '#' ? 1.0f : -1.0f;
      }
    }
  }
  return codes;
}

// ---- Subsampling ----

SubsamplingImpl::SubsamplingImpl(int64_t channels) {
  weight = register_parameter("weight", torch::empty({channels}));
  bias = register_parameter("bias", torch::empty({channels}));
  reset_parameters(2.4 / 4);
}

void SubsamplingImpl::reset_parameters(double bound) {
  torch::NoGradGuard no_grad;
  weight.uniform_(-bound, bound);
  bias.uniform_(-bound, bound);
}

torch::Tensor SubsamplingImpl::forward(const torch::Tensor& x) {
  // avg_pool * 4 is the sum of the 2x2 block.
  auto summed = torch::avg_pool2d(x, 2, 2) * 4.0;
  return summed * weight.view({1, -1, 1, 1}) + bias.view({1, -1, 1, 1});
}

// ---- SparseConv2d ----

SparseConv2dImpl::SparseConv2dImpl(int64_t in_channels_, std::vector<std::vector<int64_t>> table_,
                                   int64_t kernel_size_)
    : in_channels(in_channels_),
      out_channels(static_cast<int64_t>(table_.size())),
      kernel_size(kernel_size_),
      table(std::move(table_)) {
  int64_t connections = 0;
  for (const auto& inputs : table) connections += static_cast<int64_t>(inputs.size());
  // Index `connections` selects the extra zero row appended in dense_weight().
  std::vector<int64_t> index(static_cast<size_t>(out_channels * in_channels), connections);
  int64_t next = 0;
  for (int64_t out = 0; out < out_channels; ++out) {
    for (int64_t in : table[static_cast<size_t>(out)]) {
      TORCH_CHECK(in >= 0 && in < in_channels, "connection table: input map ", in, " out of range");
      index[static_cast<size_t>(out * in_channels + in)] = next++;
    }
  }
  weight = register_parameter("weight", torch::empty({connections, kernel_size, kernel_size}));
  bias = register_parameter("bias", torch::empty({out_channels}));
  gather_index = register_buffer("gather_index", torch::tensor(index, torch::kInt64));
  reset_parameters();
}

void SparseConv2dImpl::reset_parameters() {
  int64_t row = 0;
  const int64_t area = kernel_size * kernel_size;
  for (int64_t out = 0; out < out_channels; ++out) {
    const auto inputs = static_cast<int64_t>(table[static_cast<size_t>(out)].size());
    const double fan_in = static_cast<double>(inputs * area);
    auto kernels = weight.narrow(0, row, inputs);
    auto one_bias = bias.narrow(0, out, 1);
    init_uniform_fan_in(kernels, fan_in);
    init_uniform_fan_in(one_bias, fan_in);
    row += inputs;
  }
}

torch::Tensor SparseConv2dImpl::dense_weight() const {
  auto with_zero_row = torch::cat({weight, torch::zeros({1, kernel_size, kernel_size}, weight.options())});
  return with_zero_row.index_select(0, gather_index).view({out_channels, in_channels, kernel_size, kernel_size});
}

torch::Tensor SparseConv2dImpl::connection_mask() const {
  const auto connections = weight.size(0);
  return gather_index.lt(connections).view({out_channels, in_channels});
}

torch::Tensor SparseConv2dImpl::forward(const torch::Tensor& x) {
  return torch::conv2d(x, dense_weight().contiguous(dense_weight_format), bias);
}

// ---- EuclideanRBF ----

EuclideanRBFImpl::EuclideanRBFImpl(torch::Tensor prototypes_) {
  prototypes = register_buffer("prototypes", std::move(prototypes_));
}

torch::Tensor EuclideanRBFImpl::forward(const torch::Tensor& x) {
  auto distance = (x.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(2);
  return -distance;
}

// ---- LeNet5 ----

LeNet5Impl::LeNet5Impl(LeNet5Options options_) : options(options_) { reset(); }

void LeNet5Impl::reset() {
  const bool classic = options.variant() == Variant::kClassic;
  // Modern pads inside C1 (28x28 in, 28x28 out); classic pads the image to the paper's 32x32 field.
  C1 = register_module("C1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 6, 5).padding(classic ? 0 : 2)));
  if (classic) {
    S2_subsampling = register_module("S2", Subsampling(6));
    C3_sparse = register_module("C3", SparseConv2d(6, c3_connection_table(), 5));
    S4_subsampling = register_module("S4", Subsampling(16));
  } else {
    S2_maxpool = register_module("S2", MaxPool2x2());
    C3_dense = register_module("C3", torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 16, 5)));
    S4_maxpool = register_module("S4", MaxPool2x2());
  }
  C5 = register_module("C5", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 120, 5)));
  F6 = register_module("F6", torch::nn::Linear(120, 84));
  if (classic) {
    output_rbf = register_module("output", EuclideanRBF(rbf_prototypes()));
    init_uniform_fan_in(C1->weight, 25);
    init_uniform_fan_in(C1->bias, 25);
    S2_subsampling->reset_parameters(2.4 / 4);
    S4_subsampling->reset_parameters(2.4 / 4);
    init_uniform_fan_in(C5->weight, 16 * 25);
    init_uniform_fan_in(C5->bias, 16 * 25);
    init_uniform_fan_in(F6->weight, 120);
    init_uniform_fan_in(F6->bias, 120);
  } else {
    output_linear = register_module("output", torch::nn::Linear(84, kNumClasses));
  }
  set_channels_last(channels_last_);
}

void LeNet5Impl::set_channels_last(bool enabled) {
  channels_last_ = enabled;
  const auto format = enabled ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  for (auto* conv : {&C1, &C3_dense}) {  // C5 runs as a matrix product (full_field_convolution): kept NCHW
    if (*conv) (*conv)->weight.set_data((*conv)->weight.contiguous(format));
  }
  if (C3_sparse) C3_sparse->dense_weight_format = format;
}

torch::Tensor LeNet5Impl::preprocess(const torch::Tensor& images) const {
  if (options.variant() == Variant::kClassic) {
    auto padded = torch::constant_pad_nd(images, {kPaperPadding, kPaperPadding, kPaperPadding, kPaperPadding}, 0.0);
    return padded * kClassicInkRange + kClassicBackground;
  }
  return (images - kMnistMean) / kMnistStd;
}

std::vector<LayerActivation> LeNet5Impl::forward_layers(const torch::Tensor& images) {
  std::vector<LayerActivation> layers;
  layers.reserve(7);
  auto x = preprocess(images);
  if (options.variant() == Variant::kClassic) {
    x = scaled_tanh(C1->forward(x));
    layers.push_back({"C1", LayerKind::kConvolution, x});
    x = scaled_tanh(S2_subsampling->forward(x));
    layers.push_back({"S2", LayerKind::kSubsampling, x});
    x = scaled_tanh(C3_sparse->forward(x));
    layers.push_back({"C3", LayerKind::kConvolution, x});
    x = scaled_tanh(S4_subsampling->forward(x));
    layers.push_back({"S4", LayerKind::kSubsampling, x});
    x = scaled_tanh(full_field_convolution(C5, x));
    layers.push_back({"C5", LayerKind::kConvolution, x});
    x = scaled_tanh(F6->forward(x.flatten(1)));
    layers.push_back({"F6", LayerKind::kFullyConnected, x});
    layers.push_back({"output", LayerKind::kRBF, output_rbf->forward(x)});
  } else {
    x = torch::relu(C1->forward(x));
    layers.push_back({"C1", LayerKind::kConvolution, x});
    x = S2_maxpool->forward(x);
    layers.push_back({"S2", LayerKind::kMaxPool, x});
    x = torch::relu(C3_dense->forward(x));
    layers.push_back({"C3", LayerKind::kConvolution, x});
    x = S4_maxpool->forward(x);
    layers.push_back({"S4", LayerKind::kMaxPool, x});
    x = torch::relu(full_field_convolution(C5, x));
    layers.push_back({"C5", LayerKind::kConvolution, x});
    x = torch::relu(F6->forward(x.flatten(1)));
    layers.push_back({"F6", LayerKind::kFullyConnected, x});
    layers.push_back({"output", LayerKind::kFullyConnected, output_linear->forward(x)});
  }
  return layers;
}

torch::Tensor LeNet5Impl::forward(const torch::Tensor& images) {
  if (options.variant() == Variant::kClassic) return forward_layers(images).back().output;
  // The same function as forward_layers, arranged for speed: pooling before ReLU (they commute, and ReLU then
  // runs on a quarter of the values, gradients included) and C5 as one matrix product.
  auto x = preprocess(images);
  x = torch::relu(S2_maxpool->forward(C1->forward(x)));
  x = torch::relu(S4_maxpool->forward(C3_dense->forward(x)));
  x = torch::relu(full_field_convolution(C5, x).flatten(1));
  x = torch::relu(F6->forward(x));
  return output_linear->forward(x);
}

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
