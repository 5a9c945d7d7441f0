// strata/backend/cuda/bias.cuh: a convolution's bias on the GPU: adding it together with the
// ReLU after it, and its gradient, through that ReLU too.
//
//   forward   y = relu(y + b[c]) in one pass over the convolution's output (when cuDNN's fused
//             convolution + bias + ReLU is refused or slower: conv.hpp times both)
//   backward  db[c] = sum over n, h, w of g,  g = dy, or relu_backward(y, dy) written to `masked`
// The gradient takes two passes with a fixed order, so the result is the same bit for bit on every
// run: one block per (image, channel) plane sums it into `partials` (doubles, n x c), then one
// block per channel adds its n partials. With a ReLU the first pass also writes the masked
// gradient the convolution's other two backward passes read, so the ReLU's own backward pass
// disappears (Model pairs them, as on the CPU: conv2d_backward_relu). The per-element math is
// core/elementwise.hpp's, as on the CPU; a bfloat16 model's values are computed in float, its
// bias and bias gradient are float.
//
// Why not cudnnConvolutionBackwardBias: on an H200 it took 3.8 ms of a 15 ms ConvNet v1 training
// step at batch 256 (its calc_bias_diff kernel, ncu), for a read of the gradients that takes
// about 0.2 ms at memory speed.
#pragma once

#include <cstddef>

#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/elementwise.hpp"

namespace strata::cuda {

// Block p adds the bias of plane p = n * channels + c and, with Relu, applies the ReLU, in place.
template <bool Relu, class T, class P>
__global__ void bias_relu_kernel(T* y, const P* bias, int channels, std::size_t plane) {
  using C = compute_t<T>;
  const C b = bias[blockIdx.x % static_cast<unsigned>(channels)];
  T* p = y + static_cast<std::size_t>(blockIdx.x) * plane;
  for (std::size_t i = threadIdx.x; i < plane; i += blockDim.x) {
    const C v = static_cast<C>(p[i]) + b;
    p[i] = to_scalar<T>(Relu ? strata::elementwise::relu(v) : v);
  }
}

// y = relu(y + bias[c]) over batch x channels planes.
template <class T, class P>
void bias_relu(T* y, const P* bias, int batch, int channels, std::size_t plane, cudaStream_t stream) {
  launch_per_plane("bias_relu_kernel (a convolution's bias and the ReLU after it)", batch, channels, stream,
                   &bias_relu_kernel<true, T, P>, y, bias, channels, plane);
}

// y = y + bias[c] (a bfloat16 convolution: cuDNN's cudnnAddTensor wants the bias in y's type).
template <class T, class P>
void bias_add(T* y, const P* bias, int batch, int channels, std::size_t plane, cudaStream_t stream) {
  launch_per_plane("bias_relu_kernel (a convolution's bias)", batch, channels, stream, &bias_relu_kernel<false, T, P>,
                   y, bias, channels, plane);
}

// Block p sums plane p = n * channels + c of g into partials[p]; g is dy, or relu_backward(y, dy)
// (then also stored in masked).
template <bool Relu, class T>
__global__ void bias_plane_sums_kernel(const T* y, const T* dy, T* masked, std::size_t plane, double* partials) {
  using C = compute_t<T>;
  const std::size_t base = static_cast<std::size_t>(blockIdx.x) * plane;
  double sum = 0.0;
  for (std::size_t i = threadIdx.x; i < plane; i += blockDim.x) {
    if constexpr (Relu) {
      const C g = strata::elementwise::relu_backward(static_cast<C>(y[base + i]), static_cast<C>(dy[base + i]));
      masked[base + i] = to_scalar<T>(g);  // exact: g is dy or 0
      sum += static_cast<double>(g);
    } else {
      sum += static_cast<double>(static_cast<C>(dy[base + i]));
    }
  }
  const double total = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// Block c adds partials[n * channels + c] over the batch into db[c].
template <class P>
__global__ void bias_channel_totals_kernel(const double* partials, int batch, int channels, P* db) {
  double sum = 0.0;
  for (int n = static_cast<int>(threadIdx.x); n < batch; n += static_cast<int>(blockDim.x))
    sum += partials[static_cast<std::size_t>(n) * channels + blockIdx.x];
  const double total = block_sum(sum);
  if (threadIdx.x == 0) db[blockIdx.x] = static_cast<P>(total);
}

// db from dy (batch x channels planes of `plane` values); with relu_output, also masked =
// relu_backward(relu_output, dy). partials: batch * channels doubles of scratch.
template <class T, class P>
void bias_gradient(const T* dy, const T* relu_output, T* masked, int batch, int channels, std::size_t plane,
                   double* partials, P* db, cudaStream_t stream) {
  if (batch == 0 || channels == 0) return;
  if (relu_output != nullptr)
    launch_per_plane("bias_plane_sums_kernel (a convolution's bias gradient through its ReLU)", batch, channels,
                     stream, &bias_plane_sums_kernel<true, T>, relu_output, dy, masked, plane, partials);
  else
    launch_per_plane("bias_plane_sums_kernel (a convolution's bias gradient)", batch, channels, stream,
                     &bias_plane_sums_kernel<false, T>, static_cast<const T*>(nullptr), dy, static_cast<T*>(nullptr),
                     plane, partials);
  bias_channel_totals_kernel<P><<<static_cast<unsigned>(channels), kThreads, 0, stream>>>(partials, batch, channels,
                                                                                           db);
  check(cudaGetLastError(), "bias_channel_totals_kernel (a convolution's bias gradient)");
}

}  // namespace strata::cuda
