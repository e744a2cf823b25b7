#include "lenet5/native/plan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "kernels.h"
#include "workers.h"

namespace lenet5::native {
namespace detail {

// The repacked weights and the view of them the kernels read.
struct Packed {
  std::vector<float> storage;
  Model model{};
};

}  // namespace detail
namespace {

using namespace detail;

void check_size(const std::vector<float>& tensor, size_t expected, const char* name) {
  if (tensor.size() != expected) {
    throw std::invalid_argument(std::string("native plan: ") + name + " has " + std::to_string(tensor.size()) +
                                " values, expected " + std::to_string(expected));
  }
}

void check_shapes(const Weights& w) {
  check_size(w.c1_weight, kC1Maps * kTaps, "C1 weight");
  check_size(w.c1_bias, kC1Maps, "C1 bias");
  check_size(w.c3_weight, kC3Maps * kC3Inputs, "C3 weight");
  check_size(w.c3_bias, kC3Maps, "C3 bias");
  check_size(w.c5_weight, kC5Units * kFeatures, "C5 weight");
  check_size(w.c5_bias, kC5Units, "C5 bias");
  check_size(w.f6_weight, kF6Units * kC5Units, "F6 weight");
  check_size(w.f6_bias, kF6Units, "F6 bias");
  if (w.variant == Variant::kClassic) {
    check_size(w.s2_weight, kC1Maps, "S2 weight");
    check_size(w.s2_bias, kC1Maps, "S2 bias");
    check_size(w.s4_weight, kC3Maps, "S4 weight");
    check_size(w.s4_bias, kC3Maps, "S4 bias");
    check_size(w.output_prototypes, kClasses * kF6Units, "output prototypes");
  } else {
    check_size(w.output_weight, kClasses * kF6Units, "output weight");
    check_size(w.output_bias, kClasses, "output bias");
  }
}

// Lays tensors out one after another in one buffer, each at a multiple of 8 floats; pointers are taken once
// every tensor is in (the buffer does not move after that).
class Packer {
 public:
  size_t add(size_t floats) {
    const size_t offset = storage_.size();
    storage_.resize(offset + (floats + 7) / 8 * 8, 0.0f);
    return offset;
  }
  float& at(size_t offset, size_t index) { return storage_[offset + index]; }
  size_t copy(const std::vector<float>& values) {
    const size_t offset = add(values.size());
    std::copy(values.begin(), values.end(), storage_.begin() + static_cast<std::ptrdiff_t>(offset));
    return offset;
  }
  std::vector<float>& storage() { return storage_; }

 private:
  std::vector<float> storage_;
};

// A convolution [maps][inputs] -> [inputs][lanes]: each input's weights for every map side by side.
size_t transposed(Packer& p, const std::vector<float>& w, size_t maps, size_t inputs, size_t lanes) {
  const size_t offset = p.add(inputs * lanes);
  for (size_t o = 0; o < maps; ++o) {
    for (size_t k = 0; k < inputs; ++k) p.at(offset, k * lanes + o) = w[o * inputs + k];
  }
  return offset;
}

// C3's kernels in Winograd's domain (kernels.h): G g Gt of each pair of maps, in double before rounding.
size_t winograd_kernels(Packer& p, const std::vector<float>& c3_weight) {
  constexpr double G[kWinogradTile][5] = {{1 / 4., 0, 0, 0, 0},
                                          {-1 / 6., -1 / 6., -1 / 6., -1 / 6., -1 / 6.},
                                          {-1 / 6., 1 / 6., -1 / 6., 1 / 6., -1 / 6.},
                                          {1 / 24., 1 / 12., 1 / 6., 1 / 3., 2 / 3.},
                                          {1 / 24., -1 / 12., 1 / 6., -1 / 3., 2 / 3.},
                                          {0, 0, 0, 0, 1}};
  const size_t offset = p.add(kWinogradPoints * kC1Maps * kC3Maps);
  for (int o = 0; o < kC3Maps; ++o) {
    for (int c = 0; c < kC1Maps; ++c) {
      const float* g = c3_weight.data() + (o * kC1Maps + c) * kTaps;
      for (int point = 0; point < kWinogradPoints; ++point) {
        const int r = point / kWinogradTile, s = point % kWinogradTile;
        double sum = 0;
        for (int i = 0; i < 5; ++i) {
          for (int j = 0; j < 5; ++j) sum += G[r][i] * g[i * 5 + j] * G[s][j];
        }
        p.at(offset, (point * kC1Maps + c) * kC3Maps + o) = static_cast<float>(sum);
      }
    }
  }
  return offset;
}

std::shared_ptr<const Packed> pack(const Weights& w) {
  check_shapes(w);
  const bool classic = w.variant == Variant::kClassic;
  Packer p;
  const size_t c1_w = transposed(p, w.c1_weight, kC1Maps, kTaps, kC1Lanes), c1_b = p.copy(w.c1_bias);
  const size_t c3_w = transposed(p, w.c3_weight, kC3Maps, kC3Inputs, kC3Maps), c3_b = p.copy(w.c3_bias);
  const size_t c3_winograd = winograd_kernels(p, w.c3_weight);
  // C5 reads S4's output pixel-major ([5][5][16]) where PyTorch flattens it map-major ([16][5][5]).
  const size_t c5_w = p.add(kFeatures * kC5Units);
  for (int o = 0; o < kC5Units; ++o) {
    for (int c = 0; c < kC3Maps; ++c) {
      for (int pixel = 0; pixel < kS4Side * kS4Side; ++pixel) {
        p.at(c5_w, (pixel * kC3Maps + c) * kC5Units + o) = w.c5_weight[(o * kC3Maps + c) * kS4Side * kS4Side + pixel];
      }
    }
  }
  const size_t c5_b = p.copy(w.c5_bias);
  const size_t f6_w = transposed(p, w.f6_weight, kF6Units, kC5Units, kF6Padded), f6_b = p.add(kF6Padded);
  std::copy(w.f6_bias.begin(), w.f6_bias.end(), p.storage().begin() + static_cast<std::ptrdiff_t>(f6_b));
  size_t s2_w = 0, s2_b = 0, s4_w = 0, s4_b = 0, out_w = 0, out_b = 0, prototypes = 0;
  if (classic) {
    s2_w = p.copy(w.s2_weight), s2_b = p.copy(w.s2_bias), s4_w = p.copy(w.s4_weight), s4_b = p.copy(w.s4_bias);
    prototypes = p.copy(w.output_prototypes);
  } else {
    out_w = transposed(p, w.output_weight, kClasses, kF6Units, kOutputPadded), out_b = p.add(kOutputPadded);
    std::copy(w.output_bias.begin(), w.output_bias.end(), p.storage().begin() + static_cast<std::ptrdiff_t>(out_b));
  }
  auto packed = std::make_shared<Packed>();
  packed->storage = std::move(p.storage());
  const float* base = packed->storage.data();
  auto at = [&](size_t offset, bool present = true) { return present ? base + offset : nullptr; };
  packed->model = Model{classic,
                        w.input_scale,
                        w.input_shift,
                        w.border_value,
                        w.squash_amplitude,
                        w.squash_slope,
                        at(c1_w),
                        at(c1_b),
                        at(s2_w, classic),
                        at(s2_b, classic),
                        at(c3_w),
                        at(c3_b),
                        at(c3_winograd),
                        at(s4_w, classic),
                        at(s4_b, classic),
                        at(c5_w),
                        at(c5_b),
                        at(f6_w),
                        at(f6_b),
                        at(out_w, !classic),
                        at(out_b, !classic),
                        at(prototypes, classic)};
  return packed;
}

// Scratch for one thread, 32-byte aligned.
struct Scratch {
  Scratch() : memory(static_cast<float*>(std::aligned_alloc(32, kScratchFloats * sizeof(float)))) {
    if (memory == nullptr) throw std::bad_alloc();
  }
  ~Scratch() { std::free(memory); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* memory;
};

// FLOP/s of independent FMA chains run for about `seconds`.
double fma_rate_gflops(double seconds) {
  using Clock = std::chrono::steady_clock;
  constexpr long kRounds = 1 << 16;
  volatile float sink = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  long rounds = 0;
  const bool avx2 = isa_supported(Isa::kAvx2);
  do {
    if (avx2) {
      sink = sink + fma_chains_avx2(kRounds);
    } else {                                                 // 12 scalar chains
      float a[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};  // distinct, or the compiler merges the chains
      for (long i = 0; i < kRounds / 8; ++i) {
        for (float& x : a) x = x * 0.999f + 1e-4f;
      }
      for (float x : a) sink = sink + x;  // every chain's result used, or the unused ones are dropped
    }
    rounds += avx2 ? kRounds : kRounds / 8;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  return static_cast<double>(rounds) * 12 * (avx2 ? 16 : 2) / elapsed / 1e9;
}

// Whether no pixel of an image is NaN or infinite (all exponent bits set), in integer operations that the
// compiler vectorises.
bool all_finite(const float* pixels) {
  uint32_t bits[kImagePixels];
  std::memcpy(bits, pixels, sizeof bits);
  uint32_t not_finite = 0;
  for (uint32_t b : bits) not_finite |= static_cast<uint32_t>((b & 0x7f800000u) == 0x7f800000u);
  return not_finite == 0;
}

// Below this many images per thread, waking a worker costs more than it saves.
constexpr int64_t kImagesPerThread = 128;
// Threads take the batch in pieces of this many images, the next piece whenever one is done: on a shared
// machine one core can run slower than the other, and equal shares would leave the faster one waiting.
constexpr int64_t kImagesPerPiece = 4 * kBlock;

}  // namespace

std::string isa_name(Isa isa) { return isa == Isa::kAvx2 ? "avx2" : "scalar"; }

bool isa_supported(Isa isa) {
  if (isa == Isa::kScalar) return true;
#if defined(LENET5_NATIVE_X86)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

Isa best_isa() { return isa_supported(Isa::kAvx2) ? Isa::kAvx2 : Isa::kScalar; }

NativePlan::NativePlan(const Weights& weights, Isa isa) : variant_(weights.variant), isa_(isa), packed_(pack(weights)) {
  if (!isa_supported(isa)) throw std::invalid_argument("native plan: this CPU lacks " + isa_name(isa));
}

void NativePlan::forward_range(const float* images, int64_t n, float* scores) const {
  thread_local Scratch scratch;
  const auto block = isa_ == Isa::kAvx2 ? forward_block_avx2 : forward_block_scalar;
  for (int64_t i = 0; i < n; i += kBlock) {
    const int count = static_cast<int>(std::min<int64_t>(kBlock, n - i));
    block(packed_->model, images + i * kImagePixels, count, scores + i * kClasses, scratch.memory);
  }
  // The kernels' max and ReLU drop a NaN where PyTorch's keep it: an image with a pixel that is not finite gets
  // NaN scores, so that a caller checking the scores refuses it as it would the module's.
  for (int64_t i = 0; i < n; ++i) {
    if (!all_finite(images + i * kImagePixels)) {
      std::fill(scores + i * kClasses, scores + (i + 1) * kClasses, std::nanf(""));
    }
  }
}

void NativePlan::forward(const float* images, int64_t n, float* scores, int threads) const {
  const int64_t useful = std::max<int64_t>(1, std::min<int64_t>(threads, n / kImagesPerThread));
  if (useful == 1) return forward_range(images, n, scores);
  std::atomic<int64_t> next{0};
  const auto take_pieces = [&] {
    for (int64_t begin; (begin = next.fetch_add(kImagesPerPiece)) < n;) {
      forward_range(images + begin * kImagePixels, std::min(kImagesPerPiece, n - begin), scores + begin * kClasses);
    }
  };
  Workers::shared().run(static_cast<int>(useful), take_pieces);
}

double measure_fma_peak_gflops(double seconds) {
  // The best of several short tries: on a shared core, another process's slices only ever lower a try.
  constexpr int kTries = 8;
  double best = 0;
  for (int i = 0; i < kTries; ++i) best = std::max(best, fma_rate_gflops(seconds / kTries));
  return best;
}

}  // namespace lenet5::native
