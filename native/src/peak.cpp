// The ceiling the kernels are measured against: one core's rate of independent fused multiply-adds (12 chains
// of 8-wide AVX2 FMAs, enough to cover the latency of two FMA pipes). Compiled with -mavx2 -mfma; plan.cpp
// times it (no standard-library code here, see kernels.h).
#include "kernels.h"

#if defined(LENET5_NATIVE_X86)
#include <immintrin.h>

namespace lenet5::native::detail {

float fma_chains_avx2(long rounds) {
  // Each chain starts from its own value and the empty asm hides the values from the optimiser: chains that
  // start equal are one chain to the compiler, which then issues one FMA a round (it did: a "peak" 1.5x too high).
  __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3),
         a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7),
         a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
  const __m256 b = _mm256_set1_ps(kChainFactor), c = _mm256_set1_ps(kChainTerm);
  for (long i = 0; i < rounds; ++i) {
    a0 = _mm256_fmadd_ps(a0, b, c), a1 = _mm256_fmadd_ps(a1, b, c), a2 = _mm256_fmadd_ps(a2, b, c);
    a3 = _mm256_fmadd_ps(a3, b, c), a4 = _mm256_fmadd_ps(a4, b, c), a5 = _mm256_fmadd_ps(a5, b, c);
    a6 = _mm256_fmadd_ps(a6, b, c), a7 = _mm256_fmadd_ps(a7, b, c), a8 = _mm256_fmadd_ps(a8, b, c);
    a9 = _mm256_fmadd_ps(a9, b, c), a10 = _mm256_fmadd_ps(a10, b, c), a11 = _mm256_fmadd_ps(a11, b, c);
    asm volatile(""
                 : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9),
                   "+x"(a10), "+x"(a11));
  }
  const __m256 all = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                   _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                                 _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
  return _mm256_cvtss_f32(all);
}

}  // namespace lenet5::native::detail

#else

namespace lenet5::native::detail {
float fma_chains_avx2(long) { return 0; }
}  // namespace lenet5::native::detail

#endif
