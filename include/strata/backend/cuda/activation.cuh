// strata/backend/cuda/activation.cuh: element-wise activations on the GPU.
//
// One kernel per function (the switch is on the host, not per element), each calling the same
// core/elementwise.hpp function the CPU backend calls. cuDNN's activations are not used: they
// lack LeakyReLU, bring nothing to a memory-bound loop, and would not run the shared math.
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/elementwise.hpp"
#include "strata/core/tensor.hpp"
#include "strata/layers/activation.hpp"

namespace strata::cuda {

template <Activation F, class T>
__global__ void activation_forward_kernel(const T* x, T* y, std::size_t n, T slope) {
  namespace ew = strata::elementwise;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    if constexpr (F == Activation::relu) y[i] = ew::relu(x[i]);
    else if constexpr (F == Activation::leaky_relu) y[i] = ew::leaky_relu(x[i], slope);
    else if constexpr (F == Activation::sigmoid) y[i] = ew::sigmoid(x[i]);
    else y[i] = ew::tanh_forward(x[i]);
  }
}

template <Activation F, class T>
__global__ void activation_backward_kernel(const T* y, const T* dy, T* dx, std::size_t n, T slope) {
  namespace ew = strata::elementwise;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    if constexpr (F == Activation::relu) dx[i] = ew::relu_backward(y[i], dy[i]);
    else if constexpr (F == Activation::leaky_relu) dx[i] = ew::leaky_relu_backward(y[i], dy[i], slope);
    else if constexpr (F == Activation::sigmoid) dx[i] = ew::sigmoid_backward(y[i], dy[i]);
    else dx[i] = ew::tanh_backward(y[i], dy[i]);
  }
}

// Calls body.template operator()<F>() for the run-time function f.
template <class Body>
void with_activation(Activation f, Body&& body) {
  switch (f) {
    case Activation::relu: return body.template operator()<Activation::relu>();
    case Activation::leaky_relu: return body.template operator()<Activation::leaky_relu>();
    case Activation::sigmoid: return body.template operator()<Activation::sigmoid>();
    case Activation::tanh: return body.template operator()<Activation::tanh>();
  }
}

template <class T>
void activation_forward(BasicTensor<const T> x, BasicTensor<T> y, ActivationSpec a, const StepInfo& step) {
  const cudaStream_t stream = context_of(step).stream();
  with_activation(a.function, [&]<Activation F>() {
    launch("activation_forward_kernel", x.size(), stream, &activation_forward_kernel<F, T>, x.data, y.data, x.size(),
           static_cast<T>(a.slope));
  });
}

template <class T>
void activation_backward(BasicTensor<const T> y, BasicTensor<const T> dy, BasicTensor<T> dx, ActivationSpec a,
                         const StepInfo& step) {
  if (dx.data == nullptr) return;
  const cudaStream_t stream = context_of(step).stream();
  with_activation(a.function, [&]<Activation F>() {
    launch("activation_backward_kernel", y.size(), stream, &activation_backward_kernel<F, T>, y.data, dy.data,
           dx.data, y.size(), static_cast<T>(a.slope));
  });
}

}  // namespace strata::cuda
