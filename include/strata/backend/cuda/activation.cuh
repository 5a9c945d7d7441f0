// strata/backend/cuda/activation.cuh: element-wise activations on the GPU.
//
// One kernel per function (the switch is on the host, not per element), each calling the same
// core/elementwise.hpp function the CPU backend calls. cuDNN's activations are not used: they
// lack LeakyReLU, bring nothing to a memory-bound loop, and would not run the shared math.
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/tensor.hpp"
#include "strata/layers/activation.hpp"

namespace strata::cuda {

// Values are computed in compute_t<T> (float for bfloat16 activations) and stored as T.
template <Activation F, class T>
__global__ void activation_forward_kernel(const T* x, T* y, std::size_t n, compute_t<T> slope) {
  namespace ew = strata::elementwise;
  using C = compute_t<T>;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const C v = static_cast<C>(x[i]);
    C out;
    if constexpr (F == Activation::relu) out = ew::relu(v);
    else if constexpr (F == Activation::leaky_relu) out = ew::leaky_relu(v, slope);
    else if constexpr (F == Activation::sigmoid) out = ew::sigmoid(v);
    else out = ew::tanh_forward(v);
    y[i] = to_scalar<T>(out);
  }
}

template <Activation F, class T>
__global__ void activation_backward_kernel(const T* y, const T* dy, T* dx, std::size_t n, compute_t<T> slope) {
  namespace ew = strata::elementwise;
  using C = compute_t<T>;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const C out = static_cast<C>(y[i]);
    const C g = static_cast<C>(dy[i]);
    C d;
    if constexpr (F == Activation::relu) d = ew::relu_backward(out, g);
    else if constexpr (F == Activation::leaky_relu) d = ew::leaky_relu_backward(out, g, slope);
    else if constexpr (F == Activation::sigmoid) d = ew::sigmoid_backward(out, g);
    else d = ew::tanh_backward(out, g);
    dx[i] = to_scalar<T>(d);
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
           static_cast<compute_t<T>>(a.slope));
  });
}

template <class T>
void activation_backward(BasicTensor<const T> y, BasicTensor<const T> dy, BasicTensor<T> dx, ActivationSpec a,
                         const StepInfo& step) {
  if (dx.data == nullptr) return;
  const cudaStream_t stream = context_of(step).stream();
  with_activation(a.function, [&]<Activation F>() {
    launch("activation_backward_kernel", y.size(), stream, &activation_backward_kernel<F, T>, y.data, dy.data,
           dx.data, y.size(), static_cast<compute_t<T>>(a.slope));
  });
}

}  // namespace strata::cuda
