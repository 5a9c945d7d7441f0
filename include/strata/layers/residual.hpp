// strata/layers/residual.hpp: a residual block, y = x + Block(x).
//
// Residual<Elements...>: input C x H x W -> output C x H x W; its parameters are its layers'; it
// requires a block that keeps its input's shape (a block that does not fails to compile, naming
// the block's index and both shapes). Written inside a Sequential like a nested block:
//
//   Sequential<Input<32, 16, 16>, Residual<Conv<32, 3>, ReLU, Conv<32, 3>>, ReLU, ...>
//
// Sequential flattens it into ResidualInput, the block's layers and ResidualAdd<Span>
// (layers/skip.hpp says how a skip block runs):
//   ResidualAdd<Span> y = x + the block's input; backward, dy goes both ways: on into the block,
//                     and aside for ResidualInput, which adds it to the block's input gradient.
#pragma once

#include <cstddef>

#include "strata/core/layer.hpp"
#include "strata/layers/skip.hpp"

namespace strata {

// A residual block; only meaningful inside a Sequential, which flattens it.
template <class... Elements>
struct Residual {};

struct ResidualNames {
  static constexpr const char* kind = "residual_input";
  static constexpr CompileText name() { return "Residual input"; }
};
using ResidualInput = SkipInput<ResidualNames>;

template <std::size_t Span>
struct ResidualAdd : LayerDefaults {
  static_assert(Span >= 2, "strata::ResidualAdd: a block has at least one layer");
  static constexpr std::size_t skip_span = Span;  // model/sequential.hpp checks the shapes agree
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

}  // namespace strata
