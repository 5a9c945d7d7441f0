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

// Rows a multiple of 4 long (and the plane aligned): a thread writes 4 neighbouring pixels of a
// row as one Pack4 (core/packed.hpp), with one division for the 4.
template <class T>
__global__ void upsample_forward_kernel(const T* x, T* y, Dims in, Dims out, int f) {
  const int out_plane = static_cast<int>(out.plane());
  const T* source = x + static_cast<std::size_t>(blockIdx.x) * in.plane();
  T* target = y + static_cast<std::size_t>(blockIdx.x) * out_plane;
  if (out.w % 4 == 0 && packable(target, static_cast<std::size_t>(out_plane))) {
    for (int q = static_cast<int>(threadIdx.x); q < out_plane / 4; q += static_cast<int>(blockDim.x)) {
      const RowPack at = row_pack(q, out.w);
      const int oy = at.row, ox = at.column;
      Pack4<T> v;
      for (int j = 0; j < 4; ++j) v.v[j] = window::upsample_nearest(source, in.w, oy, ox + j, f);
      reinterpret_cast<Pack4<T>*>(target)[q] = v;
    }
    return;
  }
  for (int r = static_cast<int>(threadIdx.x); r < out_plane; r += static_cast<int>(blockDim.x))
    target[r] = window::upsample_nearest(source, in.w, r / out.w, r % out.w, f);
}

template <class T>
__global__ void upsample_backward_kernel(const T* dy, T* dx, Dims in, Dims out, int f) {
  const int in_plane = static_cast<int>(in.plane());
  const T* source = dy + static_cast<std::size_t>(blockIdx.x) * out.plane();
  T* target = dx + static_cast<std::size_t>(blockIdx.x) * in_plane;
  if (in.w % 4 == 0 && packable(target, static_cast<std::size_t>(in_plane))) {
    for (int q = static_cast<int>(threadIdx.x); q < in_plane / 4; q += static_cast<int>(blockDim.x)) {
      const RowPack at = row_pack(q, in.w);
      const int iy = at.row, ix = at.column;
      Pack4<T> v;
      for (int j = 0; j < 4; ++j)
        v.v[j] = to_scalar<T>(window::upsample_nearest_backward<T, compute_t<T>>(source, out.w, iy, ix + j, f));
      reinterpret_cast<Pack4<T>*>(target)[q] = v;
    }
    return;
  }
  for (int r = static_cast<int>(threadIdx.x); r < in_plane; r += static_cast<int>(blockDim.x))
    target[r] = to_scalar<T>(window::upsample_nearest_backward<T, compute_t<T>>(source, out.w, r / in.w, r % in.w, f));
}

// Channels last: value r of an output image copies channel c of its input pixel. With channels a
// multiple of 4, a thread writes 4 neighbouring channels of a pixel as one Pack4.
template <class T>
__global__ void upsample_forward_channels_last_kernel(const T* x, T* y, Dims in, Dims out, int f) {
  const ImageLayout o = ImageLayout::of(out, true);
  const T* source = x + image_base(static_cast<int>(in.size()));
  T* target = y + image_base(o.image_size());
  if (in.c % 4 == 0 && packable(target, static_cast<std::size_t>(o.image_size()))) {
    for (int q = first_in_image(); q < o.image_size() / 4; q += image_stride()) {
      const int p = o.pixel_at(4 * q), c = o.channel_at(4 * q);
      Pack4<T> v;
      for (int j = 0; j < 4; ++j)
        v.v[j] = window::upsample_nearest(source + c + j, in.w, p / out.w, p % out.w, f, in.c);
      reinterpret_cast<Pack4<T>*>(target)[q] = v;
    }
    return;
  }
  for (int r = first_in_image(); r < o.image_size(); r += image_stride()) {
    const int p = o.pixel_at(r);
    target[r] = window::upsample_nearest(source + o.channel_at(r), in.w, p / out.w, p % out.w, f, in.c);
  }
}

// ... and value r of an input gradient image sums channel c of its F x F output block.
template <class T>
__global__ void upsample_backward_channels_last_kernel(const T* dy, T* dx, Dims in, Dims out, int f) {
  const ImageLayout i = ImageLayout::of(in, true);
  const T* source = dy + image_base(static_cast<int>(out.size()));
  T* target = dx + image_base(i.image_size());
  if (in.c % 4 == 0 && packable(target, static_cast<std::size_t>(i.image_size()))) {
    for (int q = first_in_image(); q < i.image_size() / 4; q += image_stride()) {
      const int p = i.pixel_at(4 * q), c = i.channel_at(4 * q);
      Pack4<T> v;
      for (int j = 0; j < 4; ++j)
        v.v[j] = to_scalar<T>(window::upsample_nearest_backward<T, compute_t<T>>(source + c + j, out.w, p / in.w,
                                                                                 p % in.w, f, in.c));
      reinterpret_cast<Pack4<T>*>(target)[q] = v;
    }
    return;
  }
  for (int r = first_in_image(); r < i.image_size(); r += image_stride()) {
    const int p = i.pixel_at(r);
    target[r] = to_scalar<T>(window::upsample_nearest_backward<T, compute_t<T>>(source + i.channel_at(r), out.w,
                                                                                p / in.w, p % in.w, f, in.c));
  }
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
