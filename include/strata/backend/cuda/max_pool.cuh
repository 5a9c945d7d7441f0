// strata/backend/cuda/max_pool.cuh: K x K max pooling with stride K on the GPU.
//
// One thread per output pixel (per window in backward), running core/window.hpp's math, which
// the CPU tests check against the CPU backend. cuDNN's pooling is not used: its backward does
// not document which of several equal maxima gets the gradient, and after a ReLU whole windows
// are equal (0); here it is the first in row-major order, as on the CPU and in PyTorch. Like the
// CPU backend, backward reads the forward output instead of stored indices. Channels-last
// batches (core/layout.hpp) run over each image's output values, window::'s step = channels.
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/layout.hpp"
#include "strata/core/tensor.hpp"
#include "strata/core/window.hpp"

namespace strata::cuda {

template <class T>
__global__ void max_pool_forward_kernel(const T* x, T* y, std::size_t n, Dims in, Dims out, int k) {
  const std::size_t out_plane = out.plane();
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::size_t p = i / out_plane;
    const int r = static_cast<int>(i - p * out_plane);
    y[i] = window::max_pool(x + p * in.plane(), in.w, r / out.w, r % out.w, k);
  }
}

template <class T>
__global__ void max_pool_backward_kernel(const T* x, const T* y, const T* dy, T* dx, std::size_t n, Dims in, Dims out,
                                         int k) {
  const std::size_t out_plane = out.plane();
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::size_t p = i / out_plane;
    const int r = static_cast<int>(i - p * out_plane);
    window::max_pool_backward(x + p * in.plane(), dx + p * in.plane(), in.w, r / out.w, r % out.w, k, y[i], dy[i]);
  }
}

// Channels last: value r of an output image is channel c of output pixel (oy, ox); the input
// window starts at the image's channel c.
template <class T>
__global__ void max_pool_forward_channels_last_kernel(const T* x, T* y, Dims in, Dims out, int k) {
  const ImageLayout o = ImageLayout::of(out, true);
  const T* image = x + image_base(static_cast<int>(in.size()));
  T* target = y + image_base(o.image_size());
  for (int r = first_in_image(); r < o.image_size(); r += image_stride()) {
    const int p = o.pixel_at(r);
    target[r] = window::max_pool(image + o.channel_at(r), in.w, p / out.w, p % out.w, k, in.c);
  }
}

template <class T>
__global__ void max_pool_backward_channels_last_kernel(const T* x, const T* y, const T* dy, T* dx, Dims in, Dims out,
                                                       int k) {
  const ImageLayout o = ImageLayout::of(out, true);
  const std::size_t in_base = image_base(static_cast<int>(in.size()));
  const std::size_t out_base = image_base(o.image_size());
  for (int r = first_in_image(); r < o.image_size(); r += image_stride()) {
    const int c = o.channel_at(r);
    const int p = o.pixel_at(r);
    window::max_pool_backward(x + in_base + c, dx + in_base + c, in.w, p / out.w, p % out.w, k, y[out_base + r],
                              dy[out_base + r], in.c);
  }
}

template <class T>
void max_pool_forward(BasicTensor<const T> x, BasicTensor<T> y, int k, const StepInfo& step) {
  Context& ctx = context_of(step);
  if (ctx.channels_last()) {
    launch_per_image("max_pool_forward_channels_last_kernel", y.batch, y.dims.size(), ctx.stream(),
                     &max_pool_forward_channels_last_kernel<T>, x.data, y.data, x.dims, y.dims, k);
    return;
  }
  launch("max_pool_forward_kernel", y.size(), ctx.stream(), &max_pool_forward_kernel<T>, x.data, y.data, y.size(),
         x.dims, y.dims, k);
}

template <class T>
void max_pool_backward(BasicTensor<const T> x, BasicTensor<const T> y, BasicTensor<const T> dy, BasicTensor<T> dx,
                       int k, const StepInfo& step) {
  if (dx.data == nullptr) return;
  Context& ctx = context_of(step);
  if (ctx.channels_last()) {
    launch_per_image("max_pool_backward_channels_last_kernel", y.batch, y.dims.size(), ctx.stream(),
                     &max_pool_backward_channels_last_kernel<T>, x.data, y.data, dy.data, dx.data, x.dims, y.dims, k);
    return;
  }
  launch("max_pool_backward_kernel", y.size(), ctx.stream(), &max_pool_backward_kernel<T>, x.data, y.data, dy.data,
         dx.data, y.size(), x.dims, y.dims, k);
}

}  // namespace strata::cuda
