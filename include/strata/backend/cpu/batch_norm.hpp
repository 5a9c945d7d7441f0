// strata/backend/cpu/batch_norm.hpp: per-channel batch normalization on the CPU.
//
// Channels are split over threads; statistics are accumulated in double, so a 64 x 64 x 64 batch
// loses nothing to float summation. Forward saves (mean, 1/sqrt(var + eps)) per channel for
// backward: the batch's in training, the running ones in eval.
#pragma once

#include <cmath>

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

template <class T>
void batch_norm_forward(BasicTensor<const T> x, BasicTensor<T> y, const T* gamma, const T* beta,
                        T* running_mean, T* running_var, T* saved_mean, T* saved_inv_std,
                        double momentum, double epsilon, bool training, int threads) {
  const Dims d = x.dims;
  const std::size_t plane = d.plane();
  const std::size_t count = static_cast<std::size_t>(x.batch) * plane;
  parallel_for(d.c, threads, [&](int begin, int end, int) {
    for (int c = begin; c < end; ++c) {
      double mean = 0.0;
      double var = 0.0;
      if (training) {
        for (int n = 0; n < x.batch; ++n) {
          const T* p = x.sample(n) + c * plane;
          for (std::size_t i = 0; i < plane; ++i) mean += static_cast<double>(p[i]);
        }
        mean /= static_cast<double>(count);
        for (int n = 0; n < x.batch; ++n) {
          const T* p = x.sample(n) + c * plane;
          for (std::size_t i = 0; i < plane; ++i) {
            const double centred = static_cast<double>(p[i]) - mean;
            var += centred * centred;
          }
        }
        var /= static_cast<double>(count);
        const double unbiased = count > 1 ? var * static_cast<double>(count) / static_cast<double>(count - 1) : var;
        running_mean[c] = static_cast<T>(elementwise::running_average(running_mean[c], mean, momentum));
        running_var[c] = static_cast<T>(elementwise::running_average(running_var[c], unbiased, momentum));
      } else {
        mean = static_cast<double>(running_mean[c]);
        var = static_cast<double>(running_var[c]);
      }
      const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(epsilon));
      saved_mean[c] = static_cast<T>(mean);
      saved_inv_std[c] = static_cast<T>(inv_std);
      const auto [scale, shift] = elementwise::batch_norm_affine<T>(gamma[c], beta[c], mean, inv_std);
      for (int n = 0; n < x.batch; ++n) {
        const T* p = x.sample(n) + c * plane;
        T* q = y.sample(n) + c * plane;
        for (std::size_t i = 0; i < plane; ++i) q[i] = p[i] * scale + shift;
      }
    }
  });
}

// Writes dgamma, dbeta and (unless dx.data is null) dx. In training the batch statistics depend
// on x, which adds the two mean terms; in eval they are constants.
template <class T>
void batch_norm_backward(BasicTensor<const T> x, BasicTensor<const T> dy, BasicTensor<T> dx,
                         const T* gamma, T* dgamma, T* dbeta, const T* saved_mean,
                         const T* saved_inv_std, bool training, int threads) {
  const Dims d = x.dims;
  const std::size_t plane = d.plane();
  const double count = static_cast<double>(x.batch) * static_cast<double>(plane);
  parallel_for(d.c, threads, [&](int begin, int end, int) {
    for (int c = begin; c < end; ++c) {
      const double mean = saved_mean[c];
      const double inv_std = saved_inv_std[c];
      double sum_dy = 0.0;
      double sum_dy_xhat = 0.0;
      for (int n = 0; n < x.batch; ++n) {
        const T* p = x.sample(n) + c * plane;
        const T* g = dy.sample(n) + c * plane;
        for (std::size_t i = 0; i < plane; ++i) {
          sum_dy += static_cast<double>(g[i]);
          sum_dy_xhat += static_cast<double>(g[i]) * (static_cast<double>(p[i]) - mean) * inv_std;
        }
      }
      dgamma[c] = static_cast<T>(sum_dy_xhat);
      dbeta[c] = static_cast<T>(sum_dy);
      if (dx.data == nullptr) continue;
      const double scale = static_cast<double>(gamma[c]) * inv_std;
      const double mean_dy = training ? sum_dy / count : 0.0;
      const double mean_dy_xhat = training ? sum_dy_xhat / count : 0.0;
      for (int n = 0; n < x.batch; ++n) {
        const T* p = x.sample(n) + c * plane;
        const T* g = dy.sample(n) + c * plane;
        T* q = dx.sample(n) + c * plane;
        for (std::size_t i = 0; i < plane; ++i) {
          const double xhat = (static_cast<double>(p[i]) - mean) * inv_std;
          q[i] = static_cast<T>(scale * (static_cast<double>(g[i]) - mean_dy - xhat * mean_dy_xhat));
        }
      }
    }
  });
}

}  // namespace strata::cpu
