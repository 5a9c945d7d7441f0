// strata/backend/cuda/launch.cuh: how the backend's own kernels are launched.
//
// The element-wise kernels are grid-stride loops over their elements, launched by launch():
// 256 threads a block, at most 4096 blocks (about 30 per SM of an H200, enough to saturate
// memory), so any size runs with one configuration. Every launch is checked with
// cudaGetLastError and fails naming the kernel; a fault while it runs surfaces at the next
// checked call that waits for the stream (CUDA_LAUNCH_BLOCKING=1 pins it to its launch).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include <cuda_runtime.h>

#include "strata/backend/cuda/check.hpp"

namespace strata::cuda {

inline constexpr int kThreads = 256;
inline constexpr std::size_t kMaxBlocks = 4096;

inline int blocks_for(std::size_t n) {
  return static_cast<int>(std::min((n + kThreads - 1) / kThreads, kMaxBlocks));
}

// kernel<<<blocks_for(n), kThreads, 0, stream>>>(args...), nothing when n == 0.
template <class... Params, class... Args>
void launch(const char* name, std::size_t n, cudaStream_t stream, void (*kernel)(Params...), Args&&... args) {
  if (n == 0) return;
  kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<Args&&>(args)...);
  check(cudaGetLastError(), name);
}

// Kernels over images' planes run one block of kThreads threads per (image, channel) plane:
// kernel<<<batch * channels, kThreads, 0, stream>>>(args...), nothing when there is none.
template <class... Params, class... Args>
void launch_per_plane(const char* name, int batch, int channels, cudaStream_t stream, void (*kernel)(Params...),
                      Args&&... args) {
  const unsigned planes = static_cast<unsigned>(batch) * static_cast<unsigned>(channels);
  if (planes == 0) return;
  kernel<<<planes, kThreads, 0, stream>>>(static_cast<Args&&>(args)...);
  check(cudaGetLastError(), name);
}

// Kernels over a batch of images in a channels-last layout (core/layout.hpp) run a 2-D grid:
// blockIdx.y is the image, and the blocks along x stride over its values with 32-bit offsets
// (a 64-bit division per value made such kernels several times slower than their memory
// traffic). About kMaxBlocks blocks in all, as launch() runs. `images` is at most 65535.
// A grid's y extent is at most 65535: a kernel with one row of blocks per image says so for more.
inline void check_images_per_launch(const char* name, int images) {
  if (images > 65535)
    throw DeviceError(name, std::to_string(images) + " images in one launch (at most 65535)",
                      "use a batch of at most 65535 images");
}

template <class... Params, class... Args>
void launch_per_image(const char* name, int images, std::size_t image_values, cudaStream_t stream,
                      void (*kernel)(Params...), Args&&... args) {
  if (images <= 0 || image_values == 0) return;
  check_images_per_launch(name, images);
  const std::size_t per_image = std::max<std::size_t>(1, kMaxBlocks / static_cast<std::size_t>(images));
  const auto x = static_cast<unsigned>(std::min((image_values + kThreads - 1) / kThreads, per_image));
  kernel<<<dim3(x, static_cast<unsigned>(images)), kThreads, 0, stream>>>(static_cast<Args&&>(args)...);
  check(cudaGetLastError(), name);
}

// In such a kernel: this thread's first value within its image, and the stride over the image.
__device__ inline int first_in_image() { return static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); }
__device__ inline int image_stride() { return static_cast<int>(gridDim.x * blockDim.x); }
__device__ inline std::size_t image_base(int image_size) {
  return static_cast<std::size_t>(blockIdx.y) * static_cast<std::size_t>(image_size);
}

// The first element of this thread and the stride of a grid-stride loop.
__device__ inline std::size_t first_index() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::size_t grid_stride() { return static_cast<std::size_t>(gridDim.x) * blockDim.x; }

// Sum of `value` over a block of kThreads threads (a fixed tree, so the order is deterministic);
// the result is valid in thread 0.
__device__ inline double block_sum(double value) {
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const double total = partial[0];
  __syncthreads();  // the buffer may be reused by a second call in the same kernel
  return total;
}

}  // namespace strata::cuda
