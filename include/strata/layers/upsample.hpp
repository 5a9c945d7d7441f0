// strata/layers/upsample.hpp: nearest-neighbour upsampling by an integer factor (Keras'
// UpSampling2D, PyTorch's Upsample(mode="nearest")).
//
// Upsample<F>
//   input   C x H x W
//   output  C x F*H x F*W, each input pixel copied into an F x F block
//   params  none
//   requires F >= 1
//   gradient: the sum of the F x F block of output gradients
#pragma once

#include "strata/core/layer.hpp"

namespace strata {

template <int F>
struct Upsample : LayerDefaults {
  static constexpr const char* kind = "upsample";
  static constexpr int factor = F;

  static constexpr CompileText name() { return CompileText("Upsample<") + F + ">"; }

  static constexpr CompileText check(Dims) {
    if (F < 1) return "the factor must be at least 1";
    return {};
  }

  static constexpr Dims output_dims(Dims in) { return {in.c, in.h * F, in.w * F}; }

  static constexpr double forward_flops(Dims in) { return static_cast<double>(in.size()) * F * F; }

  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    Device::upsample_forward(a.x, a.y, F, a.step);
  }

  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    Device::upsample_backward(a.dy, a.dx, F, a.step);
  }
};

}  // namespace strata
