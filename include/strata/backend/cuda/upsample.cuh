// strata/backend/cuda/upsample.cuh: nearest-neighbour upsampling by an integer factor on the GPU.
//
// cuDNN has no nearest upsampling. One block per (image, channel) plane, so a pixel's row and
// column come from 32-bit arithmetic (a 64-bit division per element made the forward pass 3x
// slower than its memory traffic). Forward: one thread per output pixel; backward: one per input
// pixel summing its F x F block (no atomics, so deterministic and in the CPU's order). Where
// rows (channels last: channels) are a multiple of 4, a thread takes 4 neighbouring values and
// writes them as one access (core/packed.hpp). The per-pixel math is core/window.hpp's, checked
// on the CPU against the CPU backend. Channels-last
// batches (core/layout.hpp) run over each image's values (launch_per_image: 32-bit offsets too),
// window::'s step = channels.
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/packed.hpp"
#include "strata/core/tensor.hpp"
#include "strata/core/window.hpp"

namespace strata::cuda {

// A block per plane; where the rows allow, four neighbouring pixels a thread (write_plane).
template <class T>
__global__ void upsample_forward_kernel(const T* x, T* y, Dims in, Dims out, int f) {
  const T* source = x + static_cast<std::size_t>(blockIdx.x) * in.plane();
  T* target = y + static_cast<std::size_t>(blockIdx.x) * out.plane();
  write_plane(target, out.h, out.w, static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x),
              [&](int oy, int ox) { return window::upsample_nearest(source, in.w, oy, ox, f); });
}

template <class T>
__global__ void upsample_backward_kernel(const T* dy, T* dx, Dims in, Dims out, int f) {
  const T* source = dy + static_cast<std::size_t>(blockIdx.x) * out.plane();
  T* target = dx + static_cast<std::size_t>(blockIdx.x) * in.plane();
  write_plane(target, in.h, in.w, static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x), [&](int iy, int ix) {
    return to_scalar<T>(window::upsample_nearest_backward<T, compute_t<T>>(source, out.w, iy, ix, f));
  });
}

// Channels last: value (p, c) of an output image copies channel c of its input pixel; where the
// channels allow, four neighbouring channels a thread (write_image).
template <class T>
__global__ void upsample_forward_channels_last_kernel(const T* x, T* y, Dims in, Dims out, int f) {
  const T* source = x + image_base(static_cast<int>(in.size()));
  T* target = y + image_base(static_cast<int>(out.size()));
  write_image(target, ImageLayout::of(out, true), first_in_image(), image_stride(), [&](int p, int c) {
    return window::upsample_nearest(source + c, in.w, p / out.w, p % out.w, f, in.c);
  });
}

// ... and value (p, c) of an input gradient image sums channel c of its F x F output block.
template <class T>
__global__ void upsample_backward_channels_last_kernel(const T* dy, T* dx, Dims in, Dims out, int f) {
  const T* source = dy + image_base(static_cast<int>(out.size()));
  T* target = dx + image_base(static_cast<int>(in.size()));
  write_image(target, ImageLayout::of(in, true), first_in_image(), image_stride(), [&](int p, int c) {
    return to_scalar<T>(
        window::upsample_nearest_backward<T, compute_t<T>>(source + c, out.w, p / in.w, p % in.w, f, in.c));
  });
}

template <class T>
void upsample_forward(BasicTensor<const T> x, BasicTensor<T> y, int f, const StepInfo& step) {
  Context& ctx = context_of(step);
  if (ctx.channels_last()) {
    launch_per_image("upsample_forward_channels_last_kernel", y.batch,
                     channel_pack_items(y.data, y.dims.c, y.dims.size()), ctx.stream(),
                     &upsample_forward_channels_last_kernel<T>, x.data, y.data, x.dims, y.dims, f);
    return;
  }
  launch_per_plane("upsample_forward_kernel", y.batch, y.dims.c, ctx.stream(), &upsample_forward_kernel<T>, x.data,
                   y.data, x.dims, y.dims, f);
}

template <class T>
void upsample_backward(BasicTensor<const T> dy, BasicTensor<T> dx, int f, const StepInfo& step) {
  if (dx.data == nullptr) return;
  Context& ctx = context_of(step);
  if (ctx.channels_last()) {
    launch_per_image("upsample_backward_channels_last_kernel", dx.batch,
                     channel_pack_items(dx.data, dx.dims.c, dx.dims.size()), ctx.stream(),
                     &upsample_backward_channels_last_kernel<T>, dy.data, dx.data, dx.dims, dy.dims, f);
    return;
  }
  launch_per_plane("upsample_backward_kernel", dx.batch, dx.dims.c, ctx.stream(), &upsample_backward_kernel<T>,
                   dy.data, dx.data, dx.dims, dy.dims, f);
}

}  // namespace strata::cuda
