// strata/backend/cuda/upsample.cuh: nearest-neighbour upsampling by an integer factor on the GPU.
//
// cuDNN has no nearest upsampling. Forward: one thread per output pixel; backward: one thread
// per input pixel summing its F x F block (no atomics, so deterministic and in the CPU's order).
// The per-pixel math is core/window.hpp's, checked on the CPU against the CPU backend.
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/tensor.hpp"
#include "strata/core/window.hpp"

namespace strata::cuda {

template <class T>
__global__ void upsample_forward_kernel(const T* x, T* y, std::size_t n, Dims in, Dims out, int f) {
  const std::size_t out_plane = out.plane();
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::size_t p = i / out_plane;
    const int r = static_cast<int>(i - p * out_plane);
    y[i] = window::upsample_nearest(x + p * in.plane(), in.w, r / out.w, r % out.w, f);
  }
}

template <class T>
__global__ void upsample_backward_kernel(const T* dy, T* dx, std::size_t n, Dims in, Dims out, int f) {
  const std::size_t in_plane = in.plane();
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::size_t p = i / in_plane;
    const int r = static_cast<int>(i - p * in_plane);
    dx[i] = window::upsample_nearest_backward(dy + p * out.plane(), out.w, r / in.w, r % in.w, f);
  }
}

template <class T>
void upsample_forward(BasicTensor<const T> x, BasicTensor<T> y, int f, const StepInfo& step) {
  launch("upsample_forward_kernel", y.size(), context_of(step).stream(), &upsample_forward_kernel<T>, x.data, y.data,
         y.size(), x.dims, y.dims, f);
}

template <class T>
void upsample_backward(BasicTensor<const T> dy, BasicTensor<T> dx, int f, const StepInfo& step) {
  if (dx.data == nullptr) return;
  launch("upsample_backward_kernel", dx.size(), context_of(step).stream(), &upsample_backward_kernel<T>, dy.data,
         dx.data, dx.size(), dx.dims, dy.dims, f);
}

}  // namespace strata::cuda
