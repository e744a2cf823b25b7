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

// Which position of a window takes its output gradient, as ATen's max_pool2d picks it, as masks (all ones or
// zero): the first (row-major) value equal to the maximum, or the last NaN when the maximum is NaN.
struct Taken {
  uint32_t a, b, c, d;
};

inline uint32_t mask_of(bool condition) { return 0u - static_cast<uint32_t>(condition); }

inline Taken first_maximum(float a, float b, float c, float maximum) {
  const uint32_t equal_a = mask_of(a == maximum), equal_b = mask_of(b == maximum), equal_c = mask_of(c == maximum);
  return {equal_a, equal_b & ~equal_a, equal_c & ~(equal_a | equal_b), ~(equal_a | equal_b | equal_c)};
}

inline Taken last_nan(float b, float c, float d) {
  const uint32_t nan_d = mask_of(d != d), nan_c = mask_of(c != c) & ~nan_d;
  const uint32_t nan_b = mask_of(b != b) & ~(nan_c | nan_d);
  return {~(nan_b | nan_c | nan_d), nan_b, nan_c, nan_d};
}

// `value` where `mask` is all ones, +0.0 where it is zero, without a branch.
inline float masked(uint32_t mask, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits &= mask;
  std::memcpy(&value, &bits, sizeof bits);
  return value;
}

// The gradients of the windows of output row r. kNumbers: the row has no NaN maximum, so every window takes
// first_maximum without a branch, and the loop over a window column's lanes vectorises (the branch for NaN,
// though predictable, keeps it scalar). kLanes: those lanes when known at compile time (0: g.lanes()).
template <int kLanes, bool kNumbers>
void route_row(const float* in, const float* out, const float* grad_out, float* grad_in, const Geometry& g, int64_t r) {
  const int64_t length = g.row_length(), stride = g.column_stride(), lanes = kLanes > 0 ? kLanes : g.lanes();
  const int64_t offset = g.input_row_offset(r);
  const float* top = in + offset;
  const float* bottom = top + length;
  float* grad_top = grad_in + offset;
  float* grad_bottom = grad_top + length;
  const float* o = out + r * g.out_row_length();
  const float* go = grad_out + r * g.out_row_length();
  for (int64_t ow = 0; ow < g.out_width; ++ow) {
    for (int64_t c = 0; c < lanes; ++c) {
      const int64_t left = 2 * ow * stride + c, right = left + stride, k = ow * lanes + c;
      const float maximum = o[k], grad = go[k];
      const Taken taken = kNumbers || maximum == maximum ? first_maximum(top[left], top[right], bottom[left], maximum)
                                                         : last_nan(top[right], bottom[left], bottom[right]);
      grad_top[left] = masked(taken.a, grad);
      grad_top[right] = masked(taken.b, grad);
      grad_bottom[left] = masked(taken.c, grad);
      grad_bottom[right] = masked(taken.d, grad);
    }
  }
}

bool has_nan(const float* values, int64_t size) {
  uint32_t nan = 0;
  for (int64_t i = 0; i < size; ++i) nan |= static_cast<uint32_t>(values[i] != values[i]);
  return nan != 0;
}

void pool_backward(const float* in, const float* out, const float* grad_out, float* grad_in, const Geometry& g) {
  // LeNet-5's pooled maps, compiled for their lanes: NHWC with 6 (S2) and 16 (S4) channels, and NCHW (one).
  const auto route_numbers = g.lanes() == 1    ? route_row<1, true>
                             : g.lanes() == 6  ? route_row<6, true>
                             : g.lanes() == 16 ? route_row<16, true>
                                               : route_row<0, true>;
  at::parallel_for(0, g.rows(), 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const bool numbers = !has_nan(out + r * g.out_row_length(), g.out_row_length());
      (numbers ? route_numbers : route_row<0, false>)(in, out, grad_out, grad_in, g, r);
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
