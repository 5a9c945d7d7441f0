// strata/backend/cuda/batch_norm.cuh: per-channel batch normalization on the GPU.
//
// Training forward is cuDNN's (cudnnBatchNormalizationForwardTraining, spatial mode): batch
// statistics, normalisation, the running averages (factor 1 - momentum, unbiased variance, as
// the CPU backend and PyTorch) and the saved mean and 1/sqrt(var + eps) in one call.
// Eval forward and both backward passes are kernels here, following the CPU backend's formulas
// in double: eval forward writes the saved statistics backward needs (cuDNN's inference call
// does not); backward must also work in eval mode and without an input gradient (a first
// layer), which cuDNN's backward does not offer, and needs no epsilon (the saved inverse
// standard deviation already holds it). Backward reduces one channel per block. A bfloat16
// model's x, y and gradients are bf16; gamma, beta, the statistics and their gradients float.
// Its training forward is strata's too (batch_norm_statistics_kernel, the CPU's formulas in
// double): PyTorch keeps bf16 batch normalization away from cuDNN, whose support for it is not
// documented for this call. Channels-last activations (core/layout.hpp) take strata's training
// forward too, and every kernel places values by ImageLayout (per channel, the reductions read
// with a stride of `channels`: BatchNorm is not in the benchmarked networks).
#pragma once

#include <cmath>
#include <type_traits>

#include <cudnn.h>

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/elementwise.hpp"
#include "strata/core/bfloat16.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cuda {

// Eval: y = x * gamma / sqrt(running_var + eps) + (beta - running_mean * gamma / sqrt(...)),
// computed per element in double as the CPU does; the first `channels` threads also save the
// statistics for backward.
template <class T, class P>
__global__ void batch_norm_eval_kernel(const T* x, T* y, std::size_t n, ImageLayout layout, const P* gamma,
                                       const P* beta, const P* running_mean, const P* running_var, P* saved_mean,
                                       P* saved_inv_std, double epsilon) {
  const int channels = layout.channels;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const int c = layout.channel_of(i);
    const double mean = static_cast<double>(running_mean[c]);
    const double inv_std = 1.0 / sqrt(static_cast<double>(running_var[c]) + epsilon);
    const auto [scale, shift] = elementwise::batch_norm_affine<P>(gamma[c], beta[c], mean, inv_std);
    y[i] = to_scalar<T>(static_cast<P>(x[i]) * scale + shift);
    if (i < static_cast<std::size_t>(channels)) {
      saved_mean[i] = static_cast<P>(static_cast<double>(running_mean[i]));
      saved_inv_std[i] = static_cast<P>(1.0 / sqrt(static_cast<double>(running_var[i]) + epsilon));
    }
  }
}

// Training statistics, one block per channel: the batch's mean and biased variance (two passes in
// double, as the CPU), the running averages (unbiased variance) and the saved mean and
// 1/sqrt(var + eps).
template <class T, class P>
__global__ void batch_norm_statistics_kernel(const T* x, int batch, ImageLayout layout, P* running_mean,
                                             P* running_var, P* saved_mean, P* saved_inv_std, double momentum,
                                             double epsilon) {
  const int c = static_cast<int>(blockIdx.x);
  const int plane = layout.plane;
  const double count = static_cast<double>(batch) * static_cast<double>(plane);
  double sum = 0.0;
  for (int n = 0; n < batch; ++n) {
    const T* image = x + static_cast<std::size_t>(n) * static_cast<std::size_t>(layout.image_size());
    for (int p = static_cast<int>(threadIdx.x); p < plane; p += static_cast<int>(blockDim.x))
      sum += static_cast<double>(image[layout.offset(c, p)]);
  }
  const double mean = block_sum(sum) / count;  // block_sum's result is valid in thread 0 only
  __shared__ double shared_mean;
  if (threadIdx.x == 0) shared_mean = mean;
  __syncthreads();
  const double m = shared_mean;
  double squares = 0.0;
  for (int n = 0; n < batch; ++n) {
    const T* image = x + static_cast<std::size_t>(n) * static_cast<std::size_t>(layout.image_size());
    for (int p = static_cast<int>(threadIdx.x); p < plane; p += static_cast<int>(blockDim.x)) {
      const double centred = static_cast<double>(image[layout.offset(c, p)]) - m;
      squares += centred * centred;
    }
  }
  const double total = block_sum(squares);
  if (threadIdx.x == 0) {
    const double var = total / count;
    const double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
    running_mean[c] = static_cast<P>(elementwise::running_average(running_mean[c], m, momentum));
    running_var[c] = static_cast<P>(elementwise::running_average(running_var[c], unbiased, momentum));
    saved_mean[c] = static_cast<P>(m);
    saved_inv_std[c] = static_cast<P>(1.0 / sqrt(var + epsilon));
  }
}

// y = (x - saved_mean) * saved_inv_std * gamma + beta, with scale and shift formed as the CPU does.
template <class T, class P>
__global__ void batch_norm_apply_kernel(const T* x, T* y, std::size_t n, ImageLayout layout, const P* gamma,
                                        const P* beta, const P* saved_mean, const P* saved_inv_std) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const int c = layout.channel_of(i);
    const double mean = static_cast<double>(saved_mean[c]);
    const double inv_std = static_cast<double>(saved_inv_std[c]);
    const auto [scale, shift] = elementwise::batch_norm_affine<P>(gamma[c], beta[c], mean, inv_std);
    y[i] = to_scalar<T>(static_cast<P>(x[i]) * scale + shift);
  }
}

// One block per channel: dgamma = sum(dy * xhat), dbeta = sum(dy), over batch x plane.
template <class T, class P>
__global__ void batch_norm_reduce_kernel(const T* x, const T* dy, int batch, ImageLayout layout,
                                         const P* saved_mean, const P* saved_inv_std, P* dgamma, P* dbeta) {
  const int c = static_cast<int>(blockIdx.x);
  const double mean = saved_mean[c];
  const double inv_std = saved_inv_std[c];
  double sum_dy = 0.0;
  double sum_dy_xhat = 0.0;
  for (int n = 0; n < batch; ++n) {
    const std::size_t base = static_cast<std::size_t>(n) * static_cast<std::size_t>(layout.image_size());
    for (int p = static_cast<int>(threadIdx.x); p < layout.plane; p += static_cast<int>(blockDim.x)) {
      const std::size_t at = base + static_cast<std::size_t>(layout.offset(c, p));
      const double g = static_cast<double>(dy[at]);
      sum_dy += g;
      sum_dy_xhat += g * (static_cast<double>(x[at]) - mean) * inv_std;
    }
  }
  const double total_dy = block_sum(sum_dy);
  const double total_dy_xhat = block_sum(sum_dy_xhat);
  if (threadIdx.x == 0) {
    dgamma[c] = static_cast<P>(total_dy_xhat);
    dbeta[c] = static_cast<P>(total_dy);
  }
}

// dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat)) in training; the means are 0
// in eval, where the statistics do not depend on x. The means come from dgamma and dbeta.
template <class T, class P>
__global__ void batch_norm_input_gradient_kernel(const T* x, const T* dy, T* dx, std::size_t n, ImageLayout layout,
                                                 const P* gamma, const P* saved_mean, const P* saved_inv_std,
                                                 const P* dgamma, const P* dbeta, double count, bool training) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const int c = layout.channel_of(i);
    const double inv_std = saved_inv_std[c];
    const double scale = static_cast<double>(gamma[c]) * inv_std;
    const double mean_dy = training ? static_cast<double>(dbeta[c]) / count : 0.0;
    const double mean_dy_xhat = training ? static_cast<double>(dgamma[c]) / count : 0.0;
    const double xhat = (static_cast<double>(x[i]) - static_cast<double>(saved_mean[c])) * inv_std;
    dx[i] = to_scalar<T>(scale * (static_cast<double>(dy[i]) - mean_dy - xhat * mean_dy_xhat));
  }
}

template <class T, class P>
void batch_norm_forward(BasicTensor<const T> x, BasicTensor<T> y, const P* gamma, const P* beta, P* running_mean,
                        P* running_var, P* saved_mean, P* saved_inv_std, double momentum, double epsilon,
                        bool training, const StepInfo& step) {
  static_assert(std::is_same_v<P, float>, "strata::Cuda keeps BatchNorm's parameters in float");
  Context& ctx = context_of(step);
  const Dims d = x.dims;
  const ImageLayout layout = ctx.layout(d);
  if (!training) {
    launch("batch_norm_eval_kernel", x.size(), ctx.stream(), &batch_norm_eval_kernel<T, P>, x.data, y.data, x.size(),
           layout, gamma, beta, running_mean, running_var, saved_mean, saved_inv_std, epsilon);
    return;
  }
  if (is_bfloat16<T> || layout.channels_last) {
    batch_norm_statistics_kernel<T, P><<<d.c, kThreads, 0, ctx.stream()>>>(
        x.data, x.batch, layout, running_mean, running_var, saved_mean, saved_inv_std, momentum, epsilon);
    check(cudaGetLastError(), "batch_norm_statistics_kernel");
    launch("batch_norm_apply_kernel", x.size(), ctx.stream(), &batch_norm_apply_kernel<T, P>, x.data, y.data,
           x.size(), layout, gamma, beta, static_cast<const P*>(saved_mean), static_cast<const P*>(saved_inv_std));
    return;
  }
  const float one = 1.0f;
  const float zero = 0.0f;
  const cudnnTensorDescriptor_t data = ctx.tensor(x.batch, d);
  STRATA_CUDA_CHECK(cudnnBatchNormalizationForwardTraining(
      ctx.cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, data, x.data, data, y.data, ctx.tensor(1, Dims{d.c, 1, 1}),
      gamma, beta, 1.0 - momentum, running_mean, running_var, epsilon, saved_mean, saved_inv_std));
}

// Writes dgamma, dbeta and (unless dx.data is null) dx.
template <class T, class P>
void batch_norm_backward(BasicTensor<const T> x, BasicTensor<const T> dy, BasicTensor<T> dx, const P* gamma,
                         P* dgamma, P* dbeta, const P* saved_mean, const P* saved_inv_std, bool training,
                         const StepInfo& step) {
  Context& ctx = context_of(step);
  const cudaStream_t stream = ctx.stream();
  const Dims d = x.dims;
  const ImageLayout layout = ctx.layout(d);
  batch_norm_reduce_kernel<T, P><<<d.c, kThreads, 0, stream>>>(x.data, dy.data, x.batch, layout, saved_mean,
                                                               saved_inv_std, dgamma, dbeta);
  check(cudaGetLastError(), "batch_norm_reduce_kernel");
  if (dx.data == nullptr) return;
  const double count = static_cast<double>(x.batch) * static_cast<double>(d.plane());
  launch("batch_norm_input_gradient_kernel", x.size(), stream, &batch_norm_input_gradient_kernel<T, P>, x.data,
         dy.data, dx.data, x.size(), layout, gamma, saved_mean, saved_inv_std, static_cast<const P*>(dgamma),
         static_cast<const P*>(dbeta), count, training);
}

}  // namespace strata::cuda
