// strata/backend/cuda/blank.cuh: setting a rectangle of every plane of a batch to one value on
// the GPU (core/blank.hpp), the input side of Model's inpainting train_step: the images are
// uploaded once, copied to the target on the device, and blanked here. One block per plane, each
// pixel placed by the same blank_pixel_offset the CPU backend uses; channels-last images
// (core/layout.hpp) one block per image, each value placed by rectangle_value_offset
// (core/output_sums.hpp, tested on the CPU).
#pragma once

#include <cstddef>

#include "strata/backend/cuda/launch.cuh"
#include "strata/core/blank.hpp"
#include "strata/core/output_sums.hpp"
#include "strata/core/shape.hpp"

namespace strata::cuda {

template <class T>
__global__ void blank_rectangle_kernel(T* images, std::size_t plane, int plane_width, BlankRectangle r) {
  T* p = images + static_cast<std::size_t>(blockIdx.x) * plane;
  const T fill = static_cast<T>(r.fill);
  for (int i = static_cast<int>(threadIdx.x); i < r.pixels(); i += static_cast<int>(blockDim.x))
    p[blank_pixel_offset(r.top, r.left, r.width, plane_width, i)] = fill;
}

template <class T>
__global__ void blank_rectangle_channels_last_kernel(T* images, Dims dims, BlankRectangle r) {
  T* image = images + static_cast<std::size_t>(blockIdx.x) * dims.size();
  const T fill = static_cast<T>(r.fill);
  const int values = r.pixels() * dims.c;
  for (int i = static_cast<int>(threadIdx.x); i < values; i += static_cast<int>(blockDim.x))
    image[rectangle_value_offset(r, dims, i, /*channels_last=*/true)] = fill;
}

template <class T>
void blank_rectangle(T* images, int batch, Dims dims, const BlankRectangle& r, bool channels_last,
                     cudaStream_t stream) {
  if (channels_last)
    launch_per_plane("blank_rectangle_channels_last_kernel (the input's hole)", batch, 1, stream,
                     &blank_rectangle_channels_last_kernel<T>, images, dims, r);
  else
    launch_per_plane("blank_rectangle_kernel (the input's hole)", batch, dims.c, stream, &blank_rectangle_kernel<T>,
                     images, dims.plane(), dims.w, r);
}

}  // namespace strata::cuda
