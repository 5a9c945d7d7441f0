// strata/backend/cpu/loss.hpp: loss value and output gradient in one pass on the CPU.
//
// Partial sums are kept per worker in double and added in worker order (deterministic).
#pragma once

#include <array>
#include <span>

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/tensor.hpp"
#include "strata/losses/loss.hpp"

namespace strata::cpu {

// Returns the loss; writes its gradient with respect to `prediction` into `gradient`.
template <class T>
double loss_forward_backward(LossFunction function, BasicTensor<const T> prediction,
                             BasicTensor<const T> target, std::span<const float> pixel_weights,
                             BasicTensor<T> gradient, int threads) {
  namespace ew = strata::elementwise;
  const Dims d = prediction.dims;
  const std::size_t plane = d.plane();
  const double denominator = loss_denominator(pixel_weights, prediction.batch, d);
  const T scale = static_cast<T>(1.0 / denominator);

  constexpr int max_workers = 256;
  std::array<double, max_workers> partial{};
  const int rows = prediction.batch * d.c;  // one row = one channel plane of one sample
  const int ran = parallel_for(rows, std::min(threads, max_workers), [&](int begin, int end, int worker) {
    double sum = 0.0;
    for (int r = begin; r < end; ++r) {
      const std::size_t offset = static_cast<std::size_t>(r) * plane;
      const T* p = prediction.data + offset;
      const T* t = target.data + offset;
      T* g = gradient.data + offset;
      for (std::size_t i = 0; i < plane; ++i) {
        const T w = pixel_weights.empty() ? T(1) : static_cast<T>(pixel_weights[i]);
        if (function == LossFunction::binary_cross_entropy) {
          sum += static_cast<double>(w * ew::binary_cross_entropy(p[i], t[i]));
          g[i] = w * scale * ew::binary_cross_entropy_gradient(p[i], t[i]);
        } else {
          sum += static_cast<double>(w * ew::squared_error(p[i], t[i]));
          g[i] = w * scale * ew::squared_error_gradient(p[i], t[i]);
        }
      }
    }
    partial[worker] = sum;
  });
  double total = 0.0;
  for (int w = 0; w < ran; ++w) total += partial[w];
  return total / denominator;
}

}  // namespace strata::cpu
