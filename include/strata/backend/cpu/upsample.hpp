// strata/backend/cpu/upsample.hpp: nearest-neighbour upsampling by an integer factor on the CPU.
//
// Factor 2 over float rows a multiple of 16 wide (the inpainting networks) takes AVX-512 code;
// its backward adds each 2 x 2 block in the scalar loop's order, so both give the same bits.
#pragma once

#include <type_traits>

#include "strata/backend/cpu/interleave.hpp"
#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

#if defined(__AVX512F__)
namespace upsample2 {

inline void forward_plane(const float* src, int in_w, int in_h, float* dst) {
  const int out_w = 2 * in_w;
  for (int iy = 0; iy < in_h; ++iy) {
    float* top = dst + static_cast<std::size_t>(2 * iy) * out_w;
    for (int ix = 0; ix < in_w; ix += 16) {
      const __m512 v = _mm512_loadu_ps(src + static_cast<std::size_t>(iy) * in_w + ix);
      interleave::store_interleaved(top + 2 * ix, v, v);
      interleave::store_interleaved(top + out_w + 2 * ix, v, v);
    }
  }
}

inline void backward_plane(const float* grad, int in_w, int in_h, float* dst) {
  const int out_w = 2 * in_w;
  for (int iy = 0; iy < in_h; ++iy) {
    const float* top = grad + static_cast<std::size_t>(2 * iy) * out_w;
    for (int ix = 0; ix < in_w; ix += 16) {
      __m512 sum = _mm512_add_ps(_mm512_setzero_ps(), interleave::even_columns(top + 2 * ix));
      sum = _mm512_add_ps(sum, interleave::odd_columns(top + 2 * ix));
      sum = _mm512_add_ps(sum, interleave::even_columns(top + out_w + 2 * ix));
      sum = _mm512_add_ps(sum, interleave::odd_columns(top + out_w + 2 * ix));
      _mm512_storeu_ps(dst + static_cast<std::size_t>(iy) * in_w + ix, sum);
    }
  }
}

}  // namespace upsample2
#endif

// Whether upsample_* take the AVX-512 factor-2 path for scalar T (in: the small side).
template <class T>
bool uses_upsample2_vectors([[maybe_unused]] Dims in, [[maybe_unused]] int f) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) return f == 2 && in.w % 16 == 0;
#endif
  return false;
}

template <class T>
void upsample_forward(BasicTensor<const T> x, BasicTensor<T> y, int f, int threads) {
  const Dims in = x.dims;
  const Dims out = y.dims;
  [[maybe_unused]] const bool vectors = uses_upsample2_vectors<T>(in, f);
  parallel_for(x.batch * in.c, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = x.data + static_cast<std::size_t>(p) * in.plane();
      T* dst = y.data + static_cast<std::size_t>(p) * out.plane();
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float>) {
        if (vectors) {
          upsample2::forward_plane(src, in.w, in.h, dst);
          continue;
        }
      }
#endif
      for (int oy = 0; oy < out.h; ++oy) {
        const T* row = src + static_cast<std::size_t>(oy / f) * in.w;
        T* out_row = dst + static_cast<std::size_t>(oy) * out.w;
        for (int ix = 0; ix < in.w; ++ix)
          for (int r = 0; r < f; ++r) out_row[ix * f + r] = row[ix];
      }
    }
  });
}

// dx[iy, ix] = sum of the f x f block of dy it was copied to.
template <class T>
void upsample_backward(BasicTensor<const T> dy, BasicTensor<T> dx, int f, int threads) {
  if (dx.data == nullptr) return;
  const Dims in = dx.dims;
  const Dims out = dy.dims;
  [[maybe_unused]] const bool vectors = uses_upsample2_vectors<T>(in, f);
  parallel_for(dx.batch * in.c, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = dy.data + static_cast<std::size_t>(p) * out.plane();
      T* dst = dx.data + static_cast<std::size_t>(p) * in.plane();
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float>) {
        if (vectors) {
          upsample2::backward_plane(src, in.w, in.h, dst);
          continue;
        }
      }
#endif
      for (int iy = 0; iy < in.h; ++iy) {
        T* row = dst + static_cast<std::size_t>(iy) * in.w;
        for (int ix = 0; ix < in.w; ++ix) row[ix] = T(0);
        for (int r = 0; r < f; ++r) {
          const T* grad_row = src + static_cast<std::size_t>(iy * f + r) * out.w;
          for (int ix = 0; ix < in.w; ++ix)
            for (int c = 0; c < f; ++c) row[ix] += grad_row[ix * f + c];
        }
      }
    }
  });
}

}  // namespace strata::cpu
