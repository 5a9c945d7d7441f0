// docs/snippets/channel_scale.cuh: ChannelScale's CUDA kernels, for docs/adding-a-layer.md
// (compiled by nvcc in docs/snippets/channel_scale_cuda.cu wherever strata::cuda is built).
#pragma once

#include <strata/cuda.hpp>

#include "channel_scale.hpp"

// [cuda]
template <class T>
__global__ void channel_scale_forward_kernel(const T* x, T* y, const T* weight, std::size_t n,
                                             std::size_t plane, int channels) {
  for (std::size_t i = strata::cuda::first_index(); i < n; i += strata::cuda::grid_stride())
    y[i] = weight[(i / plane) % channels] * x[i];
}

// One block per channel: dweight[c] is a block-wide sum in double (no atomics: deterministic).
template <class T>
__global__ void channel_scale_backward_kernel(const T* x, const T* dy, T* dx, const T* weight, T* dweight,
                                              int batch, int channels, std::size_t plane) {
  const int c = blockIdx.x;
  double sum = 0.0;
  for (int n = 0; n < batch; ++n) {
    const std::size_t first = (static_cast<std::size_t>(n) * channels + c) * plane;
    for (std::size_t i = first + threadIdx.x; i < first + plane; i += blockDim.x) {
      sum += static_cast<double>(x[i]) * dy[i];
      if (dx != nullptr) dx[i] = weight[c] * dy[i];
    }
  }
  sum = strata::cuda::block_sum(sum);
  if (threadIdx.x == 0) dweight[c] = static_cast<T>(sum);
}

template <>
struct ChannelScaleKernels<strata::Cuda> {
  template <class T>
  static void forward(strata::BasicTensor<const T> x, strata::BasicTensor<T> y, const T* weight,
                      const strata::StepInfo& step) {
    strata::cuda::launch("channel_scale_forward_kernel", y.size(), strata::cuda::context_of(step).stream(),
                         &channel_scale_forward_kernel<T>, x.data, y.data, weight, y.size(), x.dims.plane(),
                         x.dims.c);
  }

  template <class T>
  static void backward(strata::BasicTensor<const T> x, strata::BasicTensor<const T> dy,
                       strata::BasicTensor<T> dx, const T* weight, T* dweight, const strata::StepInfo& step) {
    channel_scale_backward_kernel<T><<<x.dims.c, strata::cuda::kThreads, 0, strata::cuda::context_of(step).stream()>>>(
        x.data, dy.data, dx.data, weight, dweight, x.batch, x.dims.c, x.dims.plane());
    strata::cuda::check(cudaGetLastError(), "channel_scale_backward_kernel");
  }
};
// [cuda]
