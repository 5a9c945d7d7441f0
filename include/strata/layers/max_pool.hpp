// strata/layers/max_pool.hpp: max pooling over K x K windows with stride K.
//
// MaxPool<K>
//   input   C x H x W
//   output  C x H/K x W/K
//   params  none
//   requires K >= 1, H and W multiples of K (an odd size is a compile error, not a silent crop)
//   gradient: each window's gradient goes to its first maximum (row-major order), as in PyTorch
#pragma once

#include "strata/core/layer.hpp"

namespace strata {

template <int K>
struct MaxPool : LayerDefaults {
  static constexpr const char* kind = "max_pool";
  static constexpr int window = K;

  static constexpr CompileText name() { return CompileText("MaxPool<") + K + ">"; }

  static constexpr CompileText check(Dims in) {
    if (K < 1) return "the window must be at least 1";
    if (in.h % K != 0 || in.w % K != 0)
      return CompileText("height and width must be multiples of ") + K +
             "; crop or pad the input, or change the layers before it";
    return {};
  }

  static constexpr Dims output_dims(Dims in) { return {in.c, in.h / K, in.w / K}; }

  static constexpr double forward_flops(Dims in) { return static_cast<double>(in.size()); }

  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    Device::max_pool_forward(a.x, a.y, K, a.step);
  }

  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    Device::max_pool_backward(a.x, a.y, a.dy, a.dx, K, a.step);
  }
};

}  // namespace strata
