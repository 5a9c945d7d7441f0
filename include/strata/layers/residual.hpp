// strata/layers/residual.hpp: a residual block, y = x + Block(x).
//
// Residual<Elements...>: input C x H x W -> output C x H x W; its parameters are its layers'; it
// requires a block that keeps its input's shape (a block that does not fails to compile, naming
// the block's index and both shapes). Written inside a Sequential like a nested block:
//
//   Sequential<Input<32, 16, 16>, Residual<Conv<32, 3>, ReLU, Conv<32, 3>>, ReLU, ...>
//
// Sequential flattens it (model/sequential.hpp) into plain layers, so Model runs it as any stack:
//   ResidualInput     where the block starts: passes its input on as is (Model gives its output
//                     the input's memory: no copy); backward, adds the gradient that came round
//                     the skip to the block's input gradient
//   the block's layers
//   ResidualAdd<Span> y = x + the block's input (that of the ResidualInput Span layers back);
//                     backward, dy goes both ways: on into the block, and aside for ResidualInput
// Blocks nest: each ResidualAdd names its own ResidualInput. ForwardArgs::skip and
// BackwardArgs::skip_gradient (core/layer.hpp) carry the block's input and the gradient set
// aside. No ReLU is fused across a block's edges (Model fuses only a layer directly followed by
// ReLU), so the block's input is what the layer before it output.
#pragma once

#include <cstddef>

#include "strata/core/layer.hpp"

namespace strata {

// A residual block; only meaningful inside a Sequential, which flattens it.
template <class... Elements>
struct Residual {};

struct ResidualInput : LayerDefaults {
  static constexpr const char* kind = "residual_input";
  static constexpr CompileText name() { return "Residual input"; }
  static constexpr double forward_flops(Dims) { return 0.0; }
  static constexpr double backward_flops(Dims in, bool input_gradient) {
    return input_gradient ? static_cast<double>(in.size()) : 0.0;
  }

  template <class Device, class T>
  static void forward(const ForwardArgs<T>&) {}  // its output is its input's memory
  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    if (a.dx.data == nullptr) return;
    Device::add_tensors(a.dy, BasicTensor<const T>{a.skip_gradient, a.dy.batch, a.dy.dims}, a.dx, a.step);
  }
};

template <std::size_t Span>
struct ResidualAdd : LayerDefaults {
  static_assert(Span >= 2, "strata::ResidualAdd: a block has at least one layer");
  // How many layers back its ResidualInput is (model/sequential.hpp checks the shapes agree).
  static constexpr std::size_t residual_span = Span;
  static constexpr const char* kind = "residual_add";
  static constexpr CompileText name() { return "Residual add"; }
  static constexpr double backward_flops(Dims, bool) { return 0.0; }  // copies only

  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    Device::add_tensors(a.x, a.skip, a.y, a.step);
  }
  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    Device::copy_tensor(a.dy, BasicTensor<T>{a.skip_gradient, a.dy.batch, a.dy.dims}, a.step);
    if (a.dx.data != nullptr) Device::copy_tensor(a.dy, a.dx, a.step);
  }
};

// How many layers back the ResidualInput of layer L is (0: L is not a ResidualAdd).
template <class L>
constexpr std::size_t residual_span_of() {
  if constexpr (requires { L::residual_span; }) return L::residual_span;
  else return 0;
}

}  // namespace strata
