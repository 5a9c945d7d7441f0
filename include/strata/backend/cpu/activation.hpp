// strata/backend/cpu/activation.hpp: element-wise activations on the CPU.
//
// The math is core/elementwise.hpp's; this file only loops, one switch per call (not per element).
#pragma once

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/tensor.hpp"
#include "strata/layers/activation.hpp"

namespace strata::cpu {

template <class T>
void activation_forward(BasicTensor<const T> x, BasicTensor<T> y, ActivationSpec a, int threads) {
  namespace ew = strata::elementwise;
  const T* in = x.data;
  T* out = y.data;
  const T slope = static_cast<T>(a.slope);
  for_elements(x.size(), threads, [&](std::size_t b, std::size_t e) {
    switch (a.function) {
      case Activation::relu:
        for (std::size_t i = b; i < e; ++i) out[i] = ew::relu(in[i]);
        break;
      case Activation::leaky_relu:
        for (std::size_t i = b; i < e; ++i) out[i] = ew::leaky_relu(in[i], slope);
        break;
      case Activation::sigmoid:
        for (std::size_t i = b; i < e; ++i) out[i] = ew::sigmoid(in[i]);
        break;
      case Activation::tanh:
        for (std::size_t i = b; i < e; ++i) out[i] = ew::tanh_forward(in[i]);
        break;
    }
  });
}

template <class T>
void activation_backward(BasicTensor<const T> y, BasicTensor<const T> dy, BasicTensor<T> dx,
                         ActivationSpec a, int threads) {
  namespace ew = strata::elementwise;
  if (dx.data == nullptr) return;
  const T* out = y.data;
  const T* grad = dy.data;
  T* result = dx.data;
  const T slope = static_cast<T>(a.slope);
  for_elements(y.size(), threads, [&](std::size_t b, std::size_t e) {
    switch (a.function) {
      case Activation::relu:
        for (std::size_t i = b; i < e; ++i) result[i] = ew::relu_backward(out[i], grad[i]);
        break;
      case Activation::leaky_relu:
        for (std::size_t i = b; i < e; ++i) result[i] = ew::leaky_relu_backward(out[i], grad[i], slope);
        break;
      case Activation::sigmoid:
        for (std::size_t i = b; i < e; ++i) result[i] = ew::sigmoid_backward(out[i], grad[i]);
        break;
      case Activation::tanh:
        for (std::size_t i = b; i < e; ++i) result[i] = ew::tanh_backward(out[i], grad[i]);
        break;
    }
  });
}

}  // namespace strata::cpu
