// strata/layers/dropout.hpp: inverted dropout (Keras' Dropout(rate)).
//
// Dropout<Percent>
//   input C x H x W -> output C x H x W; no parameters
//   training: each element is zeroed with probability Percent / 100 and the survivors are scaled
//             by 1 / (1 - Percent / 100); the mask is a counter-based hash of (model seed, step,
//             layer index, element), so backward recomputes it instead of storing it, and the
//             CPU and CUDA backends draw the same mask
//   eval:     identity, deterministic
//   requires 0 <= Percent < 100
#pragma once

#include "strata/core/layer.hpp"

namespace strata {

template <int Percent>
struct Dropout : LayerDefaults {
  static constexpr const char* kind = "dropout";
  static constexpr float rate = static_cast<float>(Percent) / 100.0f;

  static constexpr CompileText name() { return CompileText("Dropout<") + Percent + ">"; }

  static constexpr CompileText check(Dims) {
    if (Percent < 0 || Percent >= 100) return "the drop percentage must be in [0, 100)";
    return {};
  }

  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    Device::dropout_forward(a.x, a.y, rate, a.step, a.index);
  }

  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    Device::dropout_backward(a.dy, a.dx, rate, a.step, a.index);
  }
};

}  // namespace strata
