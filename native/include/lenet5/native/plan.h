// LeNet-5's forward pass without a framework: the network's weights repacked once into the layouts of
// hand-written kernels (AVX2/FMA where the CPU has it, portable scalar code elsewhere), each image taken
// through C1..S4 in one pass over cache-resident buffers, the dense layers as register-blocked products over
// blocks of images, and a batch split over threads. Torch-free: deploy::InferenceSession builds one from an
// exported module and checks it against that module before serving with it.
//
//   native::NativePlan plan(weights);                 // throws std::invalid_argument on a wrong shape
//   plan.forward(images, n, scores, /*threads=*/1);    // images [n,28,28] -> scores [n,10]
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lenet5::native {
namespace detail {
struct Packed;
}

enum class Variant { kModern, kClassic };

// The instruction sets the kernels exist for.
enum class Isa { kScalar, kAvx2 };
std::string isa_name(Isa isa);  // "scalar", "avx2"
bool isa_supported(Isa isa);    // whether this CPU runs it
Isa best_isa();                 // the fastest this CPU runs

// The network's tensors in PyTorch's layouts (row-major, as the module's parameters), and the constants of
// its preprocessing: C1 sees `pixel * input_scale + input_shift` inside a 32x32 field whose 2-pixel border is
// `border_value`.
struct Weights {
  Variant variant = Variant::kModern;
  float input_scale = 1, input_shift = 0, border_value = 0;
  float squash_amplitude = 1, squash_slope = 1;   // classic: f(a) = amplitude * tanh(slope * a)
  std::vector<float> c1_weight, c1_bias;          // [6,1,5,5], [6]
  std::vector<float> s2_weight, s2_bias;          // classic: [6], [6]
  std::vector<float> c3_weight, c3_bias;          // [16,6,5,5] (classic: zero where table I has no link), [16]
  std::vector<float> s4_weight, s4_bias;          // classic: [16], [16]
  std::vector<float> c5_weight, c5_bias;          // [120,16,5,5], [120]
  std::vector<float> f6_weight, f6_bias;          // [84,120], [84]
  std::vector<float> output_weight, output_bias;  // modern: [10,84], [10]
  std::vector<float> output_prototypes;           // classic: [10,84]
};

class NativePlan {
 public:
  // Repacks `weights` for `isa`; throws std::invalid_argument naming a tensor of the wrong size, or an ISA
  // this CPU lacks.
  explicit NativePlan(const Weights& weights, Isa isa = best_isa());

  // Scores [n,10] (row-major) for `n` images of 28x28 pixels (row-major, one after the other), split over
  // at most `threads` threads when the batch is large enough to gain from it.
  void forward(const float* images, int64_t n, float* scores, int threads = 1) const;

  Isa isa() const { return isa_; }
  Variant variant() const { return variant_; }
  std::string engine_name() const { return "native-" + isa_name(isa_); }

 private:
  void forward_range(const float* images, int64_t n, float* scores) const;

  Variant variant_;
  Isa isa_;
  std::shared_ptr<const detail::Packed> packed_;  // the kernels' layouts; shared by copies
};

// FLOP/s of one core running independent AVX2 FMAs (scalar multiply-adds without AVX2) for about `seconds`:
// the ceiling the kernels are measured against.
double measure_fma_peak_gflops(double seconds = 0.2);

}  // namespace lenet5::native
