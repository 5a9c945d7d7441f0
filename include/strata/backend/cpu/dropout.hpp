// strata/backend/cpu/dropout.hpp: inverted dropout on the CPU with a recomputed mask.
#pragma once

#include <cstdint>

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/layer.hpp"
#include "strata/core/random.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

// The random stream of one dropout layer in one training step.
inline std::uint64_t dropout_stream(const StepInfo& step, int layer_index) {
  return strata::dropout_stream(step.step, layer_index);
}

// y = x * mask / (1 - rate) in training, y = x in eval. Also the backward pass (x = dy, y = dx).
template <class T>
void dropout_apply(BasicTensor<const T> x, BasicTensor<T> y, float rate, const StepInfo& step,
                   int layer_index) {
  if (y.data == nullptr) return;
  const std::size_t n = x.size();
  if (!step.training || rate == 0.0f) {
    if (y.data != x.data) std::copy(x.data, x.data + n, y.data);
    return;
  }
  const std::uint64_t stream = dropout_stream(step, layer_index);
  const T r = static_cast<T>(rate);
  for_elements(n, step.threads, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i)
      y.data[i] = x.data[i] * elementwise::dropout_scale(uniform01(step.seed, stream, i), r);
  });
}

template <class T>
void dropout_forward(BasicTensor<const T> x, BasicTensor<T> y, float rate, const StepInfo& step,
                     int layer_index) {
  dropout_apply(x, y, rate, step, layer_index);
}

template <class T>
void dropout_backward(BasicTensor<const T> dy, BasicTensor<T> dx, float rate, const StepInfo& step,
                      int layer_index) {
  dropout_apply(dy, dx, rate, step, layer_index);
}

}  // namespace strata::cpu
