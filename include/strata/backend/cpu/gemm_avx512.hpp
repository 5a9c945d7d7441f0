// strata/backend/cpu/gemm_avx512.hpp: float GEMM for convolution shapes, with AVX-512.
//
// Why: Eigen 3.4's AVX-512 kernel holds a 48x4 tile (12 accumulators), which on the conv shapes
// here (few filters, thousands of pixels) reaches under half of a core's FMA throughput. Two
// kernels, all row-major:
//   gemm<TransposeA>  C[m x n] (+)= op(A)[m x k] * B[k x n] with a 6x64 register tile (24
//                     accumulators; per step of k four loads of B, six broadcasts of A); B is
//                     copied in blocks of 256 x 256 into a caller's workspace, where it stays in
//                     L2 for every tile that reads it (convolution forward and backward-data)
//   gemm_abt          C[m x n] (+)= A[m x k] * B[n x k]^T with a 4x6 tile of dot products
//                     along k (backward-filter: k is the pixels)
// Sums run in a fixed order: results are deterministic. Single-threaded, allocation-free.
#pragma once

#if defined(__AVX512F__)
#define STRATA_HAVE_AVX512_GEMM 1

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

namespace strata::cpu::avx512 {

inline constexpr int kTileRows = 6;
inline constexpr int kTileColumns = 64;   // four vectors of 16 floats
inline constexpr int kPanelColumns = 256;
inline constexpr int kDepthBlock = 256;

// One tile: rows x columns of C (rows <= 6, columns <= 64) over depth k. A's element (i, p) is
// a[i * lda + p], or a[p * lda + i] when TransposeA. accumulate: add to C, else overwrite it.
template <int Rows, bool TransposeA>
inline void tile(int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, int columns,
                 bool accumulate) {
  __mmask16 mask[4];
  for (int v = 0; v < 4; ++v) {
    const int left = columns - 16 * v;
    mask[v] = left >= 16 ? __mmask16(0xFFFF) : left > 0 ? __mmask16((1u << left) - 1) : __mmask16(0);
  }
  // The loops over the tile are unrolled before GCC splits `acc` into registers; left to its
  // later unrolling, it kept the accumulators on the stack (a store per FMA, half the speed).
  __m512 acc[Rows][4];
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      acc[i][v] = accumulate ? _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v) : _mm512_setzero_ps();
  for (int p = 0; p < k; ++p) {
    const float* row = b + static_cast<long>(p) * ldb;
    __m512 bv[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) bv[v] = _mm512_maskz_loadu_ps(mask[v], row + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) {
      const __m512 av = _mm512_set1_ps(TransposeA ? a[static_cast<long>(p) * lda + i] : a[static_cast<long>(i) * lda + p]);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], acc[i][v]);
}

template <bool TransposeA>
inline void tile_rows(int rows, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
                      int columns, bool accumulate) {
  switch (rows) {
    case 6: tile<6, TransposeA>(k, a, lda, b, ldb, c, ldc, columns, accumulate); break;
    case 5: tile<5, TransposeA>(k, a, lda, b, ldb, c, ldc, columns, accumulate); break;
    case 4: tile<4, TransposeA>(k, a, lda, b, ldb, c, ldc, columns, accumulate); break;
    case 3: tile<3, TransposeA>(k, a, lda, b, ldb, c, ldc, columns, accumulate); break;
    case 2: tile<2, TransposeA>(k, a, lda, b, ldb, c, ldc, columns, accumulate); break;
    default: tile<1, TransposeA>(k, a, lda, b, ldb, c, ldc, columns, accumulate); break;
  }
}

// Floats of workspace gemm() needs: one packed block of B.
inline constexpr std::size_t workspace_floats = static_cast<std::size_t>(kDepthBlock) * kPanelColumns;

// C[m x n] (+)= op(A)[m x k] * B[k x n]; op(A) = A (m x k, lda) or A^T (A is k x m, lda).
// Each block of B (up to 256 rows x 256 columns) is first copied into `workspace` as strips of
// 64 columns, so a tile reads it contiguously: B's own rows lie thousands of floats apart, and
// a new page per step of k costs a TLB miss each time.
template <bool TransposeA>
void gemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, bool accumulate,
          float* workspace) {
  if (k == 0) {
    if (!accumulate)
      for (int i = 0; i < m; ++i) std::fill(c + static_cast<long>(i) * ldc, c + static_cast<long>(i) * ldc + n, 0.0f);
    return;
  }
  for (int n0 = 0; n0 < n; n0 += kPanelColumns) {
    const int panel = std::min(kPanelColumns, n - n0);
    for (int p0 = 0; p0 < k; p0 += kDepthBlock) {
      const int depth = std::min(kDepthBlock, k - p0);
      const bool add = accumulate || p0 > 0;
      for (int j = 0; j < panel; j += kTileColumns) {
        const int columns = std::min(kTileColumns, panel - j);
        float* strip = workspace + static_cast<long>(j) * depth;
        __mmask16 mask[4];
        for (int v = 0; v < 4; ++v) {
          const int left = columns - 16 * v;
          mask[v] = left >= 16 ? __mmask16(0xFFFF) : left > 0 ? __mmask16((1u << left) - 1) : __mmask16(0);
        }
        // 256 bytes a row: inline vector copies (a memmove call per row cost 12% of a v1 step).
        for (int p = 0; p < depth; ++p) {
          const float* source = b + static_cast<long>(p0 + p) * ldb + n0 + j;
#pragma GCC unroll 4
          for (int v = 0; v < 4; ++v)
            _mm512_storeu_ps(strip + p * kTileColumns + 16 * v, _mm512_maskz_loadu_ps(mask[v], source + 16 * v));
        }
      }
      for (int i0 = 0; i0 < m; i0 += kTileRows) {
        const int rows = std::min(kTileRows, m - i0);
        const float* a_block = TransposeA ? a + static_cast<long>(p0) * lda + i0 : a + static_cast<long>(i0) * lda + p0;
        for (int j = 0; j < panel; j += kTileColumns)
          tile_rows<TransposeA>(rows, depth, a_block, lda, workspace + static_cast<long>(j) * depth, kTileColumns,
                                c + static_cast<long>(i0) * ldc + n0 + j, ldc, std::min(kTileColumns, panel - j), add);
      }
    }
  }
}

// ---- C[m x n] (+)= A[m x k] * B[n x k]^T: both operands' rows run along k ----
// (convolution backward-filter: dW = dY * columns^T, k the pixels). A 4x6 tile of C is 24 dot
// products, each accumulated 16 lanes wide along k and summed across lanes at the end of each
// block of k. B's six rows of a block (24 KB) stay in L1 while the row tiles of A pass over them.

inline constexpr int kDotRows = 4;
inline constexpr int kDotColumns = 6;
inline constexpr int kDotDepth = 1024;

template <int Rows, int Columns>
inline void dot_tile(int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, bool accumulate) {
  __m512 acc[Rows][Columns];
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < Columns; ++j) acc[i][j] = _mm512_setzero_ps();
  // One loop, the last step masked (a lambda for the step would take acc's address and keep it
  // in memory).
  for (int p = 0; p < k; p += 16) {
    const __mmask16 mask = k - p >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - p)) - 1);
    __m512 av[Rows];
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) av[i] = _mm512_maskz_loadu_ps(mask, a + static_cast<long>(i) * lda + p);
#pragma GCC unroll 8
    for (int j = 0; j < Columns; ++j) {
      const __m512 bv = _mm512_maskz_loadu_ps(mask, b + static_cast<long>(j) * ldb + p);
#pragma GCC unroll 8
      for (int i = 0; i < Rows; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < Columns; ++j) {
      const float sum = _mm512_reduce_add_ps(acc[i][j]);
      float& out = c[static_cast<long>(i) * ldc + j];
      out = accumulate ? out + sum : sum;
    }
}

template <int Rows>
inline void dot_tile_columns(int columns, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
                             bool accumulate) {
  switch (columns) {
    case 6: dot_tile<Rows, 6>(k, a, lda, b, ldb, c, ldc, accumulate); break;
    case 5: dot_tile<Rows, 5>(k, a, lda, b, ldb, c, ldc, accumulate); break;
    case 4: dot_tile<Rows, 4>(k, a, lda, b, ldb, c, ldc, accumulate); break;
    case 3: dot_tile<Rows, 3>(k, a, lda, b, ldb, c, ldc, accumulate); break;
    case 2: dot_tile<Rows, 2>(k, a, lda, b, ldb, c, ldc, accumulate); break;
    default: dot_tile<Rows, 1>(k, a, lda, b, ldb, c, ldc, accumulate); break;
  }
}

inline void gemm_abt(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
                     bool accumulate) {
  if (k == 0) {
    if (!accumulate)
      for (int i = 0; i < m; ++i) std::fill(c + static_cast<long>(i) * ldc, c + static_cast<long>(i) * ldc + n, 0.0f);
    return;
  }
  for (int p0 = 0; p0 < k; p0 += kDotDepth) {
    const int depth = std::min(kDotDepth, k - p0);
    const bool add = accumulate || p0 > 0;
    for (int j0 = 0; j0 < n; j0 += kDotColumns) {
      const int columns = std::min(kDotColumns, n - j0);
      const float* b_rows = b + static_cast<long>(j0) * ldb + p0;
      for (int i0 = 0; i0 < m; i0 += kDotRows) {
        const float* a_rows = a + static_cast<long>(i0) * lda + p0;
        float* c_tile = c + static_cast<long>(i0) * ldc + j0;
        switch (std::min(kDotRows, m - i0)) {
          case 4: dot_tile_columns<4>(columns, depth, a_rows, lda, b_rows, ldb, c_tile, ldc, add); break;
          case 3: dot_tile_columns<3>(columns, depth, a_rows, lda, b_rows, ldb, c_tile, ldc, add); break;
          case 2: dot_tile_columns<2>(columns, depth, a_rows, lda, b_rows, ldb, c_tile, ldc, add); break;
          default: dot_tile_columns<1>(columns, depth, a_rows, lda, b_rows, ldb, c_tile, ldc, add); break;
        }
      }
    }
  }
}

}  // namespace strata::cpu::avx512

#endif
