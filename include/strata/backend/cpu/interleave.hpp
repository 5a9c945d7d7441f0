// strata/backend/cpu/interleave.hpp: even and odd columns of float rows with AVX-512, for the
// 2 x 2 max pooling and factor-2 upsampling kernels (max_pool.hpp, upsample.hpp).
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

namespace strata::cpu::interleave {

// Columns 0, 2, ..., 30 (even) or 1, 3, ..., 31 (odd) of the 32 floats at p.
inline __m512 even_columns(const float* p) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
}
inline __m512 odd_columns(const float* p) {
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return _mm512_permutex2var_ps(_mm512_loadu_ps(p), odd, _mm512_loadu_ps(p + 16));
}
// Writes even and odd interleaved as 32 floats at p (the inverse of the two above).
inline void store_interleaved(float* p, __m512 even, __m512 odd) {
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  _mm512_storeu_ps(p, _mm512_permutex2var_ps(even, low, odd));
  _mm512_storeu_ps(p + 16, _mm512_permutex2var_ps(even, high, odd));
}

}  // namespace strata::cpu::interleave
#endif
