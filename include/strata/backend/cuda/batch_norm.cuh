// strata/backend/cuda/batch_norm.cuh: per-channel batch normalization on the GPU.
//
// Training forward is cuDNN's (cudnnBatchNormalizationForwardTraining, spatial mode): batch
// statistics, normalisation, the running averages (factor 1 - momentum, unbiased variance, as
// the CPU backend and PyTorch) and the saved mean and 1/sqrt(var + eps) in one call.
// Eval forward and both backward passes are kernels here, following the CPU backend's formulas
// in double: eval forward writes the saved statistics backward needs (cuDNN's inference call
// does not); backward must also work in eval mode and without an input gradient (a first
// layer), which cuDNN's backward does not offer, and needs no epsilon (the saved inverse
// standard deviation already holds it). Backward reduces one channel per block.
#pragma once

#include <cmath>
#include <type_traits>

#include <cudnn.h>

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/tensor.hpp"

namespace strata::cuda {

// Eval: y = x * gamma / sqrt(running_var + eps) + (beta - running_mean * gamma / sqrt(...)),
// computed per element in double as the CPU does; the first `channels` threads also save the
// statistics for backward.
template <class T>
__global__ void batch_norm_eval_kernel(const T* x, T* y, std::size_t n, int channels, std::size_t plane, const T* gamma,
                                       const T* beta, const T* running_mean, const T* running_var, T* saved_mean,
                                       T* saved_inv_std, double epsilon) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const int c = static_cast<int>((i / plane) % static_cast<std::size_t>(channels));
    const double mean = static_cast<double>(running_mean[c]);
    const double inv_std = 1.0 / sqrt(static_cast<double>(running_var[c]) + epsilon);
    const T scale = static_cast<T>(static_cast<double>(gamma[c]) * inv_std);
    const T shift = static_cast<T>(static_cast<double>(beta[c]) - mean * static_cast<double>(gamma[c]) * inv_std);
    y[i] = x[i] * scale + shift;
    if (i < static_cast<std::size_t>(channels)) {
      saved_mean[i] = static_cast<T>(static_cast<double>(running_mean[i]));
      saved_inv_std[i] = static_cast<T>(1.0 / sqrt(static_cast<double>(running_var[i]) + epsilon));
    }
  }
}

// One block per channel: dgamma = sum(dy * xhat), dbeta = sum(dy), over batch x plane.
template <class T>
__global__ void batch_norm_reduce_kernel(const T* x, const T* dy, int batch, int channels, std::size_t plane,
                                         const T* saved_mean, const T* saved_inv_std, T* dgamma, T* dbeta) {
  const int c = static_cast<int>(blockIdx.x);
  const double mean = saved_mean[c];
  const double inv_std = saved_inv_std[c];
  double sum_dy = 0.0;
  double sum_dy_xhat = 0.0;
  for (int n = 0; n < batch; ++n) {
    const std::size_t base = (static_cast<std::size_t>(n) * channels + c) * plane;
    for (std::size_t i = threadIdx.x; i < plane; i += blockDim.x) {
      const double g = static_cast<double>(dy[base + i]);
      sum_dy += g;
      sum_dy_xhat += g * (static_cast<double>(x[base + i]) - mean) * inv_std;
    }
  }
  const double total_dy = block_sum(sum_dy);
  const double total_dy_xhat = block_sum(sum_dy_xhat);
  if (threadIdx.x == 0) {
    dgamma[c] = static_cast<T>(total_dy_xhat);
    dbeta[c] = static_cast<T>(total_dy);
  }
}

// dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat)) in training; the means are 0
// in eval, where the statistics do not depend on x. The means come from dgamma and dbeta.
template <class T>
__global__ void batch_norm_input_gradient_kernel(const T* x, const T* dy, T* dx, std::size_t n, int channels,
                                                 std::size_t plane, const T* gamma, const T* saved_mean,
                                                 const T* saved_inv_std, const T* dgamma, const T* dbeta,
                                                 double count, bool training) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const int c = static_cast<int>((i / plane) % static_cast<std::size_t>(channels));
    const double inv_std = saved_inv_std[c];
    const double scale = static_cast<double>(gamma[c]) * inv_std;
    const double mean_dy = training ? static_cast<double>(dbeta[c]) / count : 0.0;
    const double mean_dy_xhat = training ? static_cast<double>(dgamma[c]) / count : 0.0;
    const double xhat = (static_cast<double>(x[i]) - static_cast<double>(saved_mean[c])) * inv_std;
    dx[i] = static_cast<T>(scale * (static_cast<double>(dy[i]) - mean_dy - xhat * mean_dy_xhat));
  }
}

template <class T>
void batch_norm_forward(BasicTensor<const T> x, BasicTensor<T> y, const T* gamma, const T* beta, T* running_mean,
                        T* running_var, T* saved_mean, T* saved_inv_std, double momentum, double epsilon,
                        bool training, const StepInfo& step) {
  static_assert(std::is_same_v<T, float>, "strata::Cuda runs float models");
  Context& ctx = context_of(step);
  const Dims d = x.dims;
  if (!training) {
    launch("batch_norm_eval_kernel", x.size(), ctx.stream(), &batch_norm_eval_kernel<T>, x.data, y.data, x.size(), d.c,
           d.plane(), gamma, beta, running_mean, running_var, saved_mean, saved_inv_std, epsilon);
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
template <class T>
void batch_norm_backward(BasicTensor<const T> x, BasicTensor<const T> dy, BasicTensor<T> dx, const T* gamma,
                         T* dgamma, T* dbeta, const T* saved_mean, const T* saved_inv_std, bool training,
                         const StepInfo& step) {
  const cudaStream_t stream = context_of(step).stream();
  const Dims d = x.dims;
  batch_norm_reduce_kernel<T><<<d.c, kThreads, 0, stream>>>(x.data, dy.data, x.batch, d.c, d.plane(), saved_mean,
                                                           saved_inv_std, dgamma, dbeta);
  check(cudaGetLastError(), "batch_norm_reduce_kernel");
  if (dx.data == nullptr) return;
  const double count = static_cast<double>(x.batch) * static_cast<double>(d.plane());
  launch("batch_norm_input_gradient_kernel", x.size(), stream, &batch_norm_input_gradient_kernel<T>, x.data, dy.data,
         dx.data, x.size(), d.c, d.plane(), gamma, saved_mean, saved_inv_std, static_cast<const T*>(dgamma),
         static_cast<const T*>(dbeta), count, training);
}

}  // namespace strata::cuda
