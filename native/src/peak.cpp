// The ceiling the kernels are measured against: one core's rate of independent fused multiply-adds (12 chains
// of 8-wide AVX2 FMAs, enough to cover the latency of two FMA pipes). Compiled with -mavx2 -mfma; plan.cpp
// times it (no standard-library code here, see kernels.h).
#include "kernels.h"

#if defined(LENET5_NATIVE_X86)
#include <immintrin.h>

namespace lenet5::native::detail {

float fma_chains_avx2(long rounds) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
         a10 = a0, a11 = a0;
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-4f);
  for (long i = 0; i < rounds; ++i) {
    a0 = _mm256_fmadd_ps(a0, b, c), a1 = _mm256_fmadd_ps(a1, b, c), a2 = _mm256_fmadd_ps(a2, b, c);
    a3 = _mm256_fmadd_ps(a3, b, c), a4 = _mm256_fmadd_ps(a4, b, c), a5 = _mm256_fmadd_ps(a5, b, c);
    a6 = _mm256_fmadd_ps(a6, b, c), a7 = _mm256_fmadd_ps(a7, b, c), a8 = _mm256_fmadd_ps(a8, b, c);
    a9 = _mm256_fmadd_ps(a9, b, c), a10 = _mm256_fmadd_ps(a10, b, c), a11 = _mm256_fmadd_ps(a11, b, c);
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
