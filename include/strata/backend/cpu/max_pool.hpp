// strata/backend/cpu/max_pool.hpp: K x K max pooling with stride K on the CPU.
//
// Backward needs no stored indices: the windows do not overlap, so each window's gradient is
// written to the first input equal to the window's forward output (the first maximum, as in
// PyTorch) and zeros elsewhere.
#pragma once

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

template <class T>
void max_pool_forward(BasicTensor<const T> x, BasicTensor<T> y, int k, int threads) {
  const Dims in = x.dims;
  const Dims out = y.dims;
  const int planes = x.batch * in.c;
  parallel_for(planes, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = x.data + static_cast<std::size_t>(p) * in.plane();
      T* dst = y.data + static_cast<std::size_t>(p) * out.plane();
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
  parallel_for(planes, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = x.data + static_cast<std::size_t>(p) * in.plane();
      const T* pooled = y.data + static_cast<std::size_t>(p) * out.plane();
      const T* grad = dy.data + static_cast<std::size_t>(p) * out.plane();
      T* dst = dx.data + static_cast<std::size_t>(p) * in.plane();
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
