// strata/layers/activation.hpp: what the element-wise activation layers share.
//
// An activation keeps the shape, has no parameters, and computes its gradient from its output
// alone (core/elementwise.hpp), so the backends need one entry point for all of them. A layer
// derives from ActivationLayer<Self> and states `static constexpr ActivationSpec activation`.
#pragma once

#include "strata/core/layer.hpp"

namespace strata {

enum class Activation : unsigned char { relu, leaky_relu, sigmoid, tanh };

// The function and its parameter (LeakyReLU's slope), as the backends receive them.
struct ActivationSpec {
  Activation function = Activation::relu;
  float slope = 0.0f;
};

template <class Self>
struct ActivationLayer : LayerDefaults {
  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    Device::activation_forward(a.x, a.y, Self::activation, a.step);
  }
  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    Device::activation_backward(a.y, a.dy, a.dx, Self::activation, a.step);
  }
};

}  // namespace strata
