// What plan.cpp shares with the kernel files: the packed layouts and one entry point per instruction set.
// Only plain data and pointers cross this boundary: forward_avx2.cpp is compiled with -mavx2 -mfma, and an
// inline function instantiated there (a std::vector member, say) could be the copy the linker keeps for
// code that runs on CPUs without AVX2.
#pragma once

namespace lenet5::native::detail {

// Shapes of the network, fixed by LeNet-5 (28x28 input in a 32x32 field).
constexpr int kImage = 28, kImagePixels = kImage * kImage;
constexpr int kField = 32, kFieldFloats = kField * kField + 8;  // + the overrun of the last 16-wide row tile
constexpr int kTaps = 25;                                       // 5x5 kernels
constexpr int kC1Maps = 6, kC1Lanes = 8, kC1Side = 28, kC1Stride = 32, kC1Plane = kC1Side * kC1Stride;
constexpr int kS2Side = 14, kS2Plane = kS2Side * kS2Side;
constexpr int kC3Maps = 16, kC3Side = 10, kC3Pixels = kC3Side * kC3Side, kC3Inputs = kC1Maps * kTaps;
constexpr int kS4Side = 5, kFeatures = kS4Side * kS4Side * kC3Maps;  // S4's output, pixel-major: [5][5][16]
constexpr int kC5Units = 120, kF6Units = 84, kF6Padded = 88, kClasses = 10, kOutputPadded = 16;
constexpr int kBlock = 8;  // images per pass through the dense layers
static_assert(kC1Stride % 16 == 0 && kC1Side <= kC1Stride, "C1 runs in row tiles of 16 columns");
static_assert(kS2Side * 2 == kC1Side && kC3Side + 4 == kS2Side && kS4Side * 2 == kC3Side, "LeNet-5's shapes");
static_assert(kC3Maps == 16 && kC5Units % 8 == 0 && kF6Padded % 8 == 0, "dense layers run in 8-wide vectors");

// The AVX2 path computes C3 by Winograd's minimal filtering F(2x2, 5x5) (Lavin and Gray, 2016), on the points
// 0, 1, -1, 2, -2 and infinity: each 2x2 block of C3's outputs comes from a 6x6 tile d of S2's output as
// At [(G g Gt) * (Bt d B)] A, 36 products per pair of maps where the direct sum takes 100. Those blocks are
// S4's windows. G g Gt is computed once, in plan.cpp; Bt and At are additions in forward_avx2.cpp.
constexpr int kWinogradTile = 6, kWinogradPoints = kWinogradTile * kWinogradTile, kC3Blocks = kS4Side;
constexpr int kS2Lanes = 8;  // the AVX2 path's S2 output, pixel-major: [14][14][8], the 6 maps then 2 zeros
static_assert(kC3Blocks * 2 + kWinogradTile - 2 == kS2Side, "S2's rows hold 5 tiles of 6 that overlap by 4");

// Scratch of one thread, in floats, each part at a multiple of 8.
constexpr int kScratchField = 0;
constexpr int kScratchC1 = kScratchField + kFieldFloats;
constexpr int kScratchS2 = kScratchC1 + kC1Maps * kC1Plane;
constexpr int kScratchC3 = kScratchS2 + kC1Maps * kS2Plane + 8;  // + the overrun of S2's 16-wide row stores
constexpr int kScratchFeatures = kScratchC3 + kC3Pixels * kC3Maps;
constexpr int kScratchC5 = kScratchFeatures + kBlock * kFeatures;
constexpr int kScratchF6 = kScratchC5 + kBlock * kC5Units;
constexpr int kScratchOutput = kScratchF6 + kBlock * kF6Padded;
constexpr int kScratchS2Pixels = kScratchOutput + kBlock * kOutputPadded;                    // AVX2: [14][14][8]
constexpr int kScratchWinograd = kScratchS2Pixels + kS2Side * kS2Side * kS2Lanes;            // [36][5 blocks][8]
constexpr int kScratchProducts = kScratchWinograd + kWinogradPoints * kC3Blocks * kS2Lanes;  // [36][5][16]
constexpr int kScratchFloats = kScratchProducts + kWinogradPoints * kC3Blocks * kC3Maps;
static_assert(kScratchC3 % 8 == 0 && kScratchFeatures % 8 == 0 && kScratchS2Pixels % 8 == 0 && kScratchFloats % 8 == 0,
              "aligned parts");

// The weights in the kernels' layouts (all padding zero).
struct Model {
  bool classic;
  float input_scale, input_shift, border_value, squash_amplitude, squash_slope;
  const float* c1_weight;  // [25 taps][8]: tap-major, the 6 maps then 2 zeros
  const float* c1_bias;    // [6]
  const float* s2_weight;  // classic [6]
  const float* s2_bias;
  const float* c3_weight;    // [6 maps x 25 taps][16]
  const float* c3_bias;      // [16]
  const float* c3_winograd;  // [36 points][6 maps of S2][16]: G g Gt of each pair of maps (see above)
  const float* s4_weight;    // classic [16]
  const float* s4_bias;
  const float* c5_weight;      // [400 features, pixel-major as S4's output][120]
  const float* c5_bias;        // [120]
  const float* f6_weight;      // [120][88]
  const float* f6_bias;        // [88]
  const float* output_weight;  // modern [84][16]
  const float* output_bias;    // modern [16]
  const float* prototypes;     // classic [10][84]
};

// Scores [n][10] of n <= kBlock images [n][28*28]; `scratch` holds kScratchFloats, 32-byte aligned.
void forward_block_scalar(const Model& model, const float* images, int n, float* scores, float* scratch);
void forward_block_avx2(const Model& model, const float* images, int n, float* scores, float* scratch);

// 12 independent chains of `rounds` 8-wide FMAs each (192 FLOPs a round), chain i from i by
// x -> x * kChainFactor + kChainTerm; returns the sum of the chains' first lanes.
constexpr float kChainFactor = 0.999f, kChainTerm = 1e-4f;
float fma_chains_avx2(long rounds);

}  // namespace lenet5::native::detail
