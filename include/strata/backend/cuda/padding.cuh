// strata/backend/cuda/padding.cuh: explicit zero padding for convolutions cuDNN cannot pad.
//
// cuDNN's legacy convolutions pad symmetrically; Keras' Same padding puts an odd extra row or
// column at the bottom or right (even kernels, some strided shapes). Such a layer convolves a
// zero-padded copy of its input (pad_input) and crops the gradient of that copy back to the
// input (unpad_gradient). Per-pixel math in core/window.hpp; channels-last batches (core/layout.hpp)
// run over each image's values.
#pragma once

#include "strata/backend/cuda/launch.cuh"
#include "strata/core/layout.hpp"
#include "strata/core/shape.hpp"
#include "strata/core/window.hpp"

namespace strata::cuda {

template <class T>
__global__ void pad_kernel(const T* x, T* padded, std::size_t n, Dims in, Dims out, int top, int left) {
  const std::size_t out_plane = out.plane();
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::size_t p = i / out_plane;
    const int r = static_cast<int>(i - p * out_plane);
    padded[i] = window::padded(x + p * in.plane(), in.h, in.w, top, left, r / out.w, r % out.w);
  }
}

template <class T>
__global__ void unpad_kernel(const T* dpadded, T* dx, std::size_t n, Dims in, Dims padded, int top, int left) {
  const std::size_t in_plane = in.plane();
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::size_t p = i / in_plane;
    const int r = static_cast<int>(i - p * in_plane);
    dx[i] = window::unpadded_gradient(dpadded + p * padded.plane(), padded.h, padded.w, top, left, r / in.w,
                                      r % in.w);
  }
}

// Channels last: value r of a padded image is channel c of padded pixel (py, px).
template <class T>
__global__ void pad_channels_last_kernel(const T* x, T* padded, Dims in, Dims out, int top, int left) {
  const ImageLayout o = ImageLayout::of(out, true);
  const T* image = x + image_base(static_cast<int>(in.size()));
  T* target = padded + image_base(o.image_size());
  for (int r = first_in_image(); r < o.image_size(); r += image_stride()) {
    const int c = o.channel_at(r);
    const int p = o.pixel_at(r);
    target[r] = window::padded(image + c, in.h, in.w, top, left, p / out.w, p % out.w, in.c);
  }
}

template <class T>
__global__ void unpad_channels_last_kernel(const T* dpadded, T* dx, Dims in, Dims padded, int top, int left) {
  const ImageLayout i = ImageLayout::of(in, true);
  const T* source = dpadded + image_base(static_cast<int>(padded.size()));
  T* target = dx + image_base(i.image_size());
  for (int r = first_in_image(); r < i.image_size(); r += image_stride()) {
    const int c = i.channel_at(r);
    const int p = i.pixel_at(r);
    target[r] = window::unpadded_gradient(source + c, padded.h, padded.w, top, left, p / in.w, p % in.w, in.c);
  }
}

// padded (batch x `padded` dims) = x (batch x `in` dims) shifted by (top, left), zeros around.
template <class T>
void pad_input(const T* x, T* padded, int batch, Dims in, Dims padded_dims, int top, int left, bool channels_last,
               cudaStream_t stream) {
  if (channels_last) {
    launch_per_image("pad_channels_last_kernel", batch, padded_dims.size(), stream, &pad_channels_last_kernel<T>, x,
                     padded, in, padded_dims, top, left);
    return;
  }
  const std::size_t n = static_cast<std::size_t>(batch) * padded_dims.size();
  launch("pad_kernel", n, stream, &pad_kernel<T>, x, padded, n, in, padded_dims, top, left);
}

template <class T>
void unpad_gradient(const T* dpadded, T* dx, int batch, Dims in, Dims padded_dims, int top, int left,
                    bool channels_last, cudaStream_t stream) {
  if (channels_last) {
    launch_per_image("unpad_channels_last_kernel", batch, in.size(), stream, &unpad_channels_last_kernel<T>, dpadded,
                     dx, in, padded_dims, top, left);
    return;
  }
  const std::size_t n = static_cast<std::size_t>(batch) * in.size();
  launch("unpad_kernel", n, stream, &unpad_kernel<T>, dpadded, dx, n, in, padded_dims, top, left);
}

}  // namespace strata::cuda
