// strata/backend/cpu/max_pool.hpp: K x K max pooling with stride K on the CPU.
//
// Backward needs no stored indices: the windows do not overlap, so each window's gradient is
// written to the first input equal to the window's forward output (the first maximum, as in
// PyTorch) and zeros elsewhere.
//
// 2 x 2 windows over float rows a multiple of 32 wide (every pool of the inpainting networks)
// take AVX-512 code: 16 windows at a time, even and odd columns split by one permute. It compares
// in the scalar loop's order (_mm512_max_ps(a, b) is a > b ? a : b, NaN included), so both give
// the same bits.
#pragma once

#include <type_traits>

#include "strata/backend/cpu/interleave.hpp"
#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

#if defined(__AVX512F__)
namespace pool2 {

using namespace interleave;

inline void forward_plane(const float* src, int in_w, int out_h, float* dst) {
  const int out_w = in_w / 2;
  for (int oy = 0; oy < out_h; ++oy) {
    const float* top = src + static_cast<std::size_t>(2 * oy) * in_w;
    const float* bottom = top + in_w;
    for (int ox = 0; ox < out_w; ox += 16) {
      __m512 best = even_columns(top + 2 * ox);
      best = _mm512_max_ps(odd_columns(top + 2 * ox), best);
      best = _mm512_max_ps(even_columns(bottom + 2 * ox), best);
      best = _mm512_max_ps(odd_columns(bottom + 2 * ox), best);
      _mm512_storeu_ps(dst + static_cast<std::size_t>(oy) * out_w + ox, best);
    }
  }
}

inline void backward_plane(const float* src, const float* pooled, const float* grad, int in_w, int out_h, float* dst) {
  const int out_w = in_w / 2;
  for (int oy = 0; oy < out_h; ++oy) {
    const float* top = src + static_cast<std::size_t>(2 * oy) * in_w;
    const float* bottom = top + in_w;
    float* dst_top = dst + static_cast<std::size_t>(2 * oy) * in_w;
    float* dst_bottom = dst_top + in_w;
    for (int ox = 0; ox < out_w; ox += 16) {
      const std::size_t at = static_cast<std::size_t>(oy) * out_w + ox;
      const __m512 best = _mm512_loadu_ps(pooled + at);
      const __m512 g = _mm512_loadu_ps(grad + at);
      // The first position (in row-major window order) equal to the maximum wins.
      const __mmask16 w00 = _mm512_cmp_ps_mask(even_columns(top + 2 * ox), best, _CMP_EQ_OQ);
      const __mmask16 w01 = _mm512_cmp_ps_mask(odd_columns(top + 2 * ox), best, _CMP_EQ_OQ) & ~w00;
      const __mmask16 w10 = _mm512_cmp_ps_mask(even_columns(bottom + 2 * ox), best, _CMP_EQ_OQ) & ~(w00 | w01);
      const __mmask16 w11 = _mm512_cmp_ps_mask(odd_columns(bottom + 2 * ox), best, _CMP_EQ_OQ) & ~(w00 | w01 | w10);
      store_interleaved(dst_top + 2 * ox, _mm512_maskz_mov_ps(w00, g), _mm512_maskz_mov_ps(w01, g));
      store_interleaved(dst_bottom + 2 * ox, _mm512_maskz_mov_ps(w10, g), _mm512_maskz_mov_ps(w11, g));
    }
  }
}

}  // namespace pool2
#endif

// Whether max_pool_* take the AVX-512 2 x 2 path for scalar T.
template <class T>
bool uses_pool2_vectors([[maybe_unused]] Dims in, [[maybe_unused]] int k) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) return k == 2 && in.w % 32 == 0 && in.h % 2 == 0;
#endif
  return false;
}

template <class T>
void max_pool_forward(BasicTensor<const T> x, BasicTensor<T> y, int k, int threads) {
  const Dims in = x.dims;
  const Dims out = y.dims;
  const int planes = x.batch * in.c;
  [[maybe_unused]] const bool vectors = uses_pool2_vectors<T>(in, k);
  parallel_for(planes, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = x.data + static_cast<std::size_t>(p) * in.plane();
      T* dst = y.data + static_cast<std::size_t>(p) * out.plane();
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float>) {
        if (vectors) {
          pool2::forward_plane(src, in.w, out.h, dst);
          continue;
        }
      }
#endif
      for (int oy = 0; oy < out.h; ++oy) {
        for (int ox = 0; ox < out.w; ++ox) {
          const T* window = src + static_cast<std::size_t>(oy) * k * in.w + static_cast<std::size_t>(ox) * k;
          T best = window[0];
          for (int dy = 0; dy < k; ++dy)
            for (int dx = 0; dx < k; ++dx) best = window[dy * in.w + dx] > best ? window[dy * in.w + dx] : best;
          dst[oy * out.w + ox] = best;
        }
      }
    }
  });
}

template <class T>
void max_pool_backward(BasicTensor<const T> x, BasicTensor<const T> y, BasicTensor<const T> dy,
                       BasicTensor<T> dx, int k, int threads) {
  if (dx.data == nullptr) return;
  const Dims in = x.dims;
  const Dims out = y.dims;
  const int planes = x.batch * in.c;
  [[maybe_unused]] const bool vectors = uses_pool2_vectors<T>(in, k);
  parallel_for(planes, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = x.data + static_cast<std::size_t>(p) * in.plane();
      const T* pooled = y.data + static_cast<std::size_t>(p) * out.plane();
      const T* grad = dy.data + static_cast<std::size_t>(p) * out.plane();
      T* dst = dx.data + static_cast<std::size_t>(p) * in.plane();
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float>) {
        if (vectors) {
          pool2::backward_plane(src, pooled, grad, in.w, out.h, dst);
          continue;
        }
      }
#endif
      for (int oy = 0; oy < out.h; ++oy) {
        for (int ox = 0; ox < out.w; ++ox) {
          const std::size_t corner = static_cast<std::size_t>(oy) * k * in.w + static_cast<std::size_t>(ox) * k;
          const T best = pooled[oy * out.w + ox];
          bool assigned = false;
          for (int wy = 0; wy < k; ++wy) {
            for (int wx = 0; wx < k; ++wx) {
              const std::size_t at = corner + static_cast<std::size_t>(wy) * in.w + wx;
              const bool winner = !assigned && src[at] == best;
              dst[at] = winner ? grad[oy * out.w + ox] : T(0);
              assigned = assigned || winner;
            }
          }
        }
      }
    }
  });
}

}  // namespace strata::cpu
