#include "lenet5/model/max_pool.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace lenet5::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// The loops below are branch-free on purpose: on real feature maps the comparisons are unpredictable, and a
// branchy max (ATen's) spends most of its time in mispredictions.

// ATen's rule for the maximum: a value wins when it is greater or NaN, so a NaN propagates.
inline float nan_max(float best, float value) {
  const bool take = static_cast<int>(value > best) | static_cast<int>(value != value);
  return take ? value : best;
}

struct Geometry {
  int64_t batch, channels, height, width, out_height, out_width;
  bool channels_last;

  Geometry(torch::IntArrayRef input_sizes, bool channels_last_)
      : batch(input_sizes[0]),
        channels(input_sizes[1]),
        height(input_sizes[2]),
        width(input_sizes[3]),
        out_height(input_sizes[2] / 2),
        out_width(input_sizes[3] / 2),
        channels_last(channels_last_) {}

  // A tensor that is both (one channel, say) is treated as NCHW: the memory order is the same.
  explicit Geometry(const torch::Tensor& x)
      : Geometry(x.sizes(), !x.is_contiguous() && x.is_contiguous(torch::MemoryFormat::ChannelsLast)) {}

  torch::MemoryFormat memory_format() const {
    return channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  }
  // Both layouts as rows of `row_length` values, each output row made of two input rows;
  // `column_stride` is the distance between the two columns of a window (1 in NCHW, C in NHWC).
  int64_t rows() const { return channels_last ? batch * out_height : batch * channels * out_height; }
  int64_t row_length() const { return channels_last ? width * channels : width; }
  int64_t column_stride() const { return channels_last ? channels : 1; }
  int64_t out_row_length() const { return channels_last ? out_width * channels : out_width; }
  int64_t lanes() const { return channels_last ? channels : 1; }  // values side by side in one window column
  // Offset of the top input row for output row r: the input has 2 rows per output row, plus the row an
  // odd height leaves out at the end of each image (NHWC) or plane (NCHW).
  int64_t input_row_offset(int64_t r) const {
    const int64_t image = r / out_height, row = r % out_height;
    return (image * height + 2 * row) * row_length();
  }
};

void pool_forward(const float* in, float* out, const Geometry& g) {
  const int64_t length = g.row_length(), stride = g.column_stride(), lanes = g.lanes();
  at::parallel_for(0, g.rows(), 16, [&](int64_t begin, int64_t end) {
    std::vector<float> vertical(static_cast<size_t>(length));
    for (int64_t r = begin; r < end; ++r) {
      const float* top = in + g.input_row_offset(r);
      const float* bottom = top + length;
      // Rows first (contiguous, vectorises), then column pairs. The order cannot change the maximum.
      for (int64_t i = 0; i < length; ++i) vertical[i] = nan_max(top[i], bottom[i]);
      float* o = out + r * g.out_row_length();
      if (!g.channels_last) {
        for (int64_t ow = 0; ow < g.out_width; ++ow) o[ow] = nan_max(vertical[2 * ow], vertical[2 * ow + 1]);
        continue;
      }
      for (int64_t ow = 0; ow < g.out_width; ++ow) {
        const float* pair = vertical.data() + 2 * ow * stride;
        for (int64_t c = 0; c < lanes; ++c) o[ow * lanes + c] = nan_max(pair[c], pair[c + stride]);
      }
    }
  });
}

// `value` where `take` is 1, +0.0 where it is 0, without a branch.
inline float select_bits(uint32_t take, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits &= 0u - take;
  std::memcpy(&value, &bits, sizeof bits);
  return value;
}

// Sends each output gradient to the input position ATen's max_pool2d takes the maximum from: the first
// (row-major) value equal to the maximum, or the last NaN when the maximum is NaN. The other three positions
// of the window get zero.
inline void route_window(float a, float b, float c, float d, float maximum, float grad, float* ga, float* gb, float* gc,
                         float* gd) {
  uint32_t take_a, take_b, take_c, take_d;
  if (maximum != maximum) {  // NaN: rare, so this branch is predictable
    take_d = d != d;
    take_c = static_cast<uint32_t>(c != c) & (take_d ^ 1u);
    take_b = static_cast<uint32_t>(b != b) & ((take_c | take_d) ^ 1u);
    take_a = (take_b | take_c | take_d) ^ 1u;
  } else {
    take_a = a == maximum;
    take_b = static_cast<uint32_t>(b == maximum) & (take_a ^ 1u);
    take_c = static_cast<uint32_t>(c == maximum) & ((take_a | take_b) ^ 1u);
    take_d = (take_a | take_b | take_c) ^ 1u;
  }
  *ga = select_bits(take_a, grad);
  *gb = select_bits(take_b, grad);
  *gc = select_bits(take_c, grad);
  *gd = select_bits(take_d, grad);
}

// route_window for windows whose maximum is not NaN, as masks: no branch, so that the loop over a window
// column's lanes vectorises. kLanes is the number of lanes when known at compile time (0: g.lanes()).
template <int kLanes>
void route_row_without_nan(const float* top, const float* bottom, const float* o, const float* go, float* grad_top,
                           float* grad_bottom, const Geometry& g) {
  const int64_t stride = g.column_stride(), lanes = kLanes > 0 ? kLanes : g.lanes();
  for (int64_t ow = 0; ow < g.out_width; ++ow) {
    const int64_t left = 2 * ow * stride, right = left + stride, k = ow * lanes;
    for (int64_t c = 0; c < lanes; ++c) {
      const float maximum = o[k + c], grad = go[k + c];
      const uint32_t a = 0u - static_cast<uint32_t>(top[left + c] == maximum);
      const uint32_t b = 0u - static_cast<uint32_t>(top[right + c] == maximum);
      const uint32_t c_ = 0u - static_cast<uint32_t>(bottom[left + c] == maximum);
      uint32_t bits;
      std::memcpy(&bits, &grad, sizeof bits);
      const uint32_t values[4] = {bits & a, bits & b & ~a, bits & c_ & ~(a | b), bits & ~(a | b | c_)};
      std::memcpy(grad_top + left + c, &values[0], sizeof bits);
      std::memcpy(grad_top + right + c, &values[1], sizeof bits);
      std::memcpy(grad_bottom + left + c, &values[2], sizeof bits);
      std::memcpy(grad_bottom + right + c, &values[3], sizeof bits);
    }
  }
}

bool has_nan(const float* values, int64_t size) {
  uint32_t nan = 0;
  for (int64_t i = 0; i < size; ++i) nan |= static_cast<uint32_t>(values[i] != values[i]);
  return nan != 0;
}

void pool_backward(const float* in, const float* out, const float* grad_out, float* grad_in, const Geometry& g) {
  const int64_t length = g.row_length(), stride = g.column_stride(), lanes = g.lanes();
  // LeNet-5's pooled maps: NHWC with 6 (S2) and 16 (S4) channels, and NCHW (one lane).
  const auto route_row = lanes == 1    ? route_row_without_nan<1>
                         : lanes == 6  ? route_row_without_nan<6>
                         : lanes == 16 ? route_row_without_nan<16>
                                       : route_row_without_nan<0>;
  at::parallel_for(0, g.rows(), 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t offset = g.input_row_offset(r);
      const float* top = in + offset;
      const float* bottom = top + length;
      float* grad_top = grad_in + offset;
      float* grad_bottom = grad_top + length;
      const float* o = out + r * g.out_row_length();
      const float* go = grad_out + r * g.out_row_length();
      if (!has_nan(o, g.out_row_length())) {
        route_row(top, bottom, o, go, grad_top, grad_bottom, g);
        continue;
      }
      for (int64_t ow = 0; ow < g.out_width; ++ow) {
        for (int64_t c = 0; c < lanes; ++c) {
          const int64_t left = 2 * ow * stride + c, right = left + stride, k = ow * lanes + c;
          route_window(top[left], top[right], bottom[left], bottom[right], o[k], go[k], grad_top + left,
                       grad_top + right, grad_bottom + left, grad_bottom + right);
        }
      }
    }
  });
}

torch::Tensor pooled_output(const torch::Tensor& x, const Geometry& g) {
  return torch::empty({g.batch, g.channels, g.out_height, g.out_width}, x.options().memory_format(g.memory_format()));
}

torch::Tensor pool(const torch::Tensor& x) {
  const Geometry g(x);
  auto out = pooled_output(x, g);
  pool_forward(x.data_ptr<float>(), out.data_ptr<float>(), g);
  return out;
}

class MaxPool2x2Function : public torch::autograd::Function<MaxPool2x2Function> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x) {
    auto out = pool(x);
    ctx->save_for_backward({x, out});
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& out = saved[1];
    const Geometry g(x);
    const auto grad_out = grad_outputs[0].contiguous(g.memory_format());
    // Every position inside a window is written; zero-filling is only needed for an odd height or width.
    // (torch::zeros ignores a memory format given in its options; torch::empty honours it.)
    auto grad_in = torch::empty(x.sizes(), grad_out.options().memory_format(g.memory_format()));
    if (g.height % 2 != 0 || g.width % 2 != 0) grad_in.zero_();
    pool_backward(x.data_ptr<float>(), out.data_ptr<float>(), grad_out.data_ptr<float>(), grad_in.data_ptr<float>(), g);
    return {grad_in};
  }
};

}  // namespace

bool max_pool_2x2_has_fast_path(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 4 && x.layout() == torch::kStrided &&
         x.size(2) >= 2 && x.size(3) >= 2 && (x.is_contiguous() || x.is_contiguous(torch::MemoryFormat::ChannelsLast));
}

torch::Tensor max_pool_2x2(const torch::Tensor& x) {
  if (!max_pool_2x2_has_fast_path(x)) return torch::max_pool2d(x, 2);
  if (torch::GradMode::is_enabled() && x.requires_grad()) return MaxPool2x2Function::apply(x);
  return pool(x);
}

}  // namespace lenet5::model
