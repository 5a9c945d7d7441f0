// strata/backend/cpu/upsample.hpp: nearest-neighbour upsampling by an integer factor on the CPU.
#pragma once

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

template <class T>
void upsample_forward(BasicTensor<const T> x, BasicTensor<T> y, int f, int threads) {
  const Dims in = x.dims;
  const Dims out = y.dims;
  parallel_for(x.batch * in.c, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = x.data + static_cast<std::size_t>(p) * in.plane();
      T* dst = y.data + static_cast<std::size_t>(p) * out.plane();
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
  parallel_for(dx.batch * in.c, threads, [&](int begin, int end, int) {
    for (int p = begin; p < end; ++p) {
      const T* src = dy.data + static_cast<std::size_t>(p) * out.plane();
      T* dst = dx.data + static_cast<std::size_t>(p) * in.plane();
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
