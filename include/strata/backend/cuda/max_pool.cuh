// strata/backend/cuda/max_pool.cuh: K x K max pooling with stride K on the GPU.
//
// One thread per output pixel (per window in backward), or where the shapes allow four: in
// forward four neighbouring output pixels (channels last, channels), in backward channels last
// four neighbouring channels of a window; each runs core/window.hpp's math, which the CPU tests
// check against the CPU backend. cuDNN's pooling is not used: its backward does
// not document which of several equal maxima gets the gradient, and after a ReLU whole windows
// are equal (0); here it is the first in row-major order, as on the CPU and in PyTorch. Like the
// CPU backend, backward reads the forward output instead of stored indices. Channels-last
// batches (core/layout.hpp) run over each image's output values, window::'s step = channels.
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/layout.hpp"
#include "strata/core/packed.hpp"
#include "strata/core/tensor.hpp"
#include "strata/core/window.hpp"

namespace strata::cuda {

// One block per (image, channel) plane: 32-bit arithmetic within it (a 64-bit division per
// value cost more than the value's memory traffic). Forward, where the rows allow, four
// neighbouring outputs a thread (write_plane).
template <class T>
__global__ void max_pool_forward_kernel(const T* x, T* y, Dims in, Dims out, int k) {
  const T* source = x + static_cast<std::size_t>(blockIdx.x) * in.plane();
  T* target = y + static_cast<std::size_t>(blockIdx.x) * out.plane();
  write_plane(target, out.h, out.w, static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x),
              [&](int oy, int ox) { return window::max_pool(source, in.w, oy, ox, k); });
}

template <class T>
__global__ void max_pool_backward_kernel(const T* x, const T* y, const T* dy, T* dx, Dims in, Dims out, int k) {
  const int out_plane = static_cast<int>(out.plane());
  const std::size_t in_offset = static_cast<std::size_t>(blockIdx.x) * in.plane();
  const std::size_t out_offset = static_cast<std::size_t>(blockIdx.x) * static_cast<std::size_t>(out_plane);
  for (int r = static_cast<int>(threadIdx.x); r < out_plane; r += static_cast<int>(blockDim.x))
    window::max_pool_backward(x + in_offset, dx + in_offset, in.w, r / out.w, r % out.w, k, y[out_offset + r],
                              dy[out_offset + r]);
}

// Channels last: value (p, c) of an output image is channel c of output pixel p; the input
// window starts at the image's channel c. Four neighbouring channels a thread where they allow.
template <class T>
__global__ void max_pool_forward_channels_last_kernel(const T* x, T* y, Dims in, Dims out, int k) {
  const T* image = x + image_base(static_cast<int>(in.size()));
  T* target = y + image_base(static_cast<int>(out.size()));
  write_image(target, ImageLayout::of(out, true), first_in_image(), image_stride(), [&](int p, int c) {
    return window::max_pool(image + c, in.w, p / out.w, p % out.w, k, in.c);
  });
}

// Backward: four neighbouring channels of an output pixel a thread where the channels and the
// four tensors allow (`packed`), each value one at a time otherwise.
template <class T>
__global__ void max_pool_backward_channels_last_kernel(const T* x, const T* y, const T* dy, T* dx, Dims in, Dims out,
                                                       int k, bool packed) {
  const ImageLayout o = ImageLayout::of(out, true);
  const std::size_t in_base = image_base(static_cast<int>(in.size()));
  const std::size_t out_base = image_base(o.image_size());
  if (packed) {
    const Pack4<T>* pooled = reinterpret_cast<const Pack4<T>*>(y + out_base);
    const Pack4<T>* gradients = reinterpret_cast<const Pack4<T>*>(dy + out_base);
    for (int q = first_in_image(); q < o.image_size() / 4; q += image_stride()) {
      const int c = o.channel_at(4 * q);
      const int p = o.pixel_at(4 * q);
      window::max_pool_backward(x + in_base + c, dx + in_base + c, in.w, p / out.w, p % out.w, k, pooled[q],
                                gradients[q], in.c);
    }
    return;
  }
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
    launch_per_image("max_pool_forward_channels_last_kernel", y.batch,
                     channel_pack_items(y.data, y.dims.c, y.dims.size()), ctx.stream(),
                     &max_pool_forward_channels_last_kernel<T>, x.data, y.data, x.dims, y.dims, k);
    return;
  }
  launch_per_plane("max_pool_forward_kernel", y.batch, y.dims.c, ctx.stream(), &max_pool_forward_kernel<T>, x.data,
                   y.data, x.dims, y.dims, k);
}

template <class T>
void max_pool_backward(BasicTensor<const T> x, BasicTensor<const T> y, BasicTensor<const T> dy, BasicTensor<T> dx,
                       int k, const StepInfo& step) {
  if (dx.data == nullptr) return;
  Context& ctx = context_of(step);
  if (ctx.channels_last()) {
    // Every image of each tensor aligned to a Pack4 where its first is (channels a multiple of 4).
    const bool packed = y.dims.c % 4 == 0 && packable(x.data, x.dims.size()) && packable(y.data, y.dims.size()) &&
                        packable(dy.data, dy.dims.size()) && packable(static_cast<const T*>(dx.data), dx.dims.size());
    launch_per_image("max_pool_backward_channels_last_kernel", y.batch, packed ? y.dims.size() / 4 : y.dims.size(),
                     ctx.stream(), &max_pool_backward_channels_last_kernel<T>, x.data, y.data, dy.data, dx.data,
                     x.dims, y.dims, k, packed);
    return;
  }
  launch_per_plane("max_pool_backward_kernel", y.batch, y.dims.c, ctx.stream(), &max_pool_backward_kernel<T>, x.data,
                   y.data, dy.data, dx.data, x.dims, y.dims, k);
}

}  // namespace strata::cuda
