// strata/backend/cpu/gemm.hpp: C (+)= op(A) * op(B) on row-major matrices, without allocating.
//
// Eigen's own product expressions allocate their packing buffers on the heap for every call
// above 128 KiB (about 100 MB per ConvNet v1 step), which costs page faults and breaks the
// no-allocation promise. This calls Eigen's blocked GEMM kernel (Eigen 3.4's
// internal::general_matrix_matrix_product, the routine behind `C.noalias() += A * B`) with
// packing buffers the caller owns; with AVX-512, float products take strata's own kernels
// (gemm_avx512.hpp). Single-threaded: the backend parallelises over images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <algorithm>

// Eigen's AVX-512 packet code, built on GCC 12's intrinsics, trips -Wmaybe-uninitialized
// wherever it is inlined (GCC bug 105593; see gemm_avx512.hpp): off for Eigen's own code only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "strata/backend/cpu/gemm_avx512.hpp"

namespace strata::cpu {

// Floats of workspace gemm_accumulate needs for an m x k by k x n product: Eigen's packed panels
// are never larger than the operands, plus room to align both to 64 bytes; the AVX-512 path packs
// blocks of B whose columns are rounded up to 64.
constexpr std::size_t gemm_workspace_floats(std::size_t m, std::size_t n, std::size_t k) {
  return m * k + k * n + 64 + 64 * std::min<std::size_t>(k, 256);
}

namespace detail {

template <class T>
T* align64(T* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<T*>((address + 63) & ~std::uintptr_t{63});
}

// Eigen's blocking object with caller-provided panels. rows/cols/depth are those of the
// column-major problem Eigen solves (a row-major product is solved transposed).
template <class T>
class CallerBlocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  CallerBlocking(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth, T* workspace) {
    this->m_mc = rows;
    this->m_nc = cols;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<T, T, 1>(this->m_kc, this->m_mc, this->m_nc, Eigen::Index{1});
    this->m_blockA = align64(workspace);
    this->m_blockB = align64(this->m_blockA + this->m_mc * this->m_kc);
  }
};

template <class T, int OrderA, int OrderB>
void gemm_kernel(Eigen::Index m, Eigen::Index n, Eigen::Index k, const T* a, Eigen::Index lda, const T* b,
                 Eigen::Index ldb, T* c, Eigen::Index ldc, T* workspace) {
  CallerBlocking<T> blocking(n, m, k, workspace);
  Eigen::internal::general_matrix_matrix_product<Eigen::Index, T, OrderA, false, T, OrderB, false, Eigen::RowMajor,
                                                 1>::run(m, n, k, a, lda, b, ldb, c, 1, ldc, T(1), blocking,
                                                         nullptr);
}

}  // namespace detail

// C[m x n] = op(A)[m x k] * op(B)[k x n] (accumulate false) or C += ... (true). All matrices
// row-major with leading dimensions lda, ldb, ldc; op(X) is X or its transpose. `workspace` holds
// gemm_workspace_floats(m, n, k).
template <class T>
void gemm(int m, int n, int k, const T* a, int lda, bool transpose_a, const T* b, int ldb, bool transpose_b, T* c,
          int ldc, T* workspace, bool accumulate) {
#if defined(STRATA_HAVE_AVX512_GEMM)
  // Float products take the AVX-512 kernels (1.2-1.4x Eigen's on convolution shapes), except
  // A^T * B^T, which convolution never asks for; double (the gradient tests) stays on Eigen.
  if constexpr (std::is_same_v<T, float>) {
    if (!transpose_b) {
      if (transpose_a) avx512::gemm<true>(m, n, k, a, lda, b, ldb, c, ldc, accumulate, workspace);
      else avx512::gemm<false>(m, n, k, a, lda, b, ldb, c, ldc, accumulate, workspace);
      return;
    }
    if (!transpose_a) {
      avx512::gemm_abt(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
      return;
    }
  }
#endif
  if (!accumulate)
    for (int i = 0; i < m; ++i) std::fill(c + static_cast<std::size_t>(i) * ldc, c + static_cast<std::size_t>(i) * ldc + n, T(0));
  // A transposed row-major matrix is the same memory read column-major.
  constexpr int row = Eigen::RowMajor;
  constexpr int col = Eigen::ColMajor;
  if (!transpose_a && !transpose_b) detail::gemm_kernel<T, row, row>(m, n, k, a, lda, b, ldb, c, ldc, workspace);
  else if (!transpose_a) detail::gemm_kernel<T, row, col>(m, n, k, a, lda, b, ldb, c, ldc, workspace);
  else if (!transpose_b) detail::gemm_kernel<T, col, row>(m, n, k, a, lda, b, ldb, c, ldc, workspace);
  else detail::gemm_kernel<T, col, col>(m, n, k, a, lda, b, ldb, c, ldc, workspace);
}

// C[m x n] += op(A)[m x k] * op(B)[k x n] (see gemm).
template <class T>
void gemm_accumulate(int m, int n, int k, const T* a, int lda, bool transpose_a, const T* b, int ldb,
                     bool transpose_b, T* c, int ldc, T* workspace) {
  gemm(m, n, k, a, lda, transpose_a, b, ldb, transpose_b, c, ldc, workspace, true);
}

}  // namespace strata::cpu
