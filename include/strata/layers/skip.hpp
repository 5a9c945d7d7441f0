// strata/layers/skip.hpp: what the skip blocks share, Residual (layers/residual.hpp) and Concat
// (layers/concat.hpp).
//
// A skip block flattens (model/sequential.hpp) into plain layers, so Model runs it as any stack:
//   SkipInput<Names>  where the block starts: passes its input on as is (Model gives its output
//                     its input's memory: no copy); backward, adds the gradient that came round
//                     the skip to the block's input gradient
//   the block's layers
//   the join          ResidualAdd<Span> or ConcatJoin<Span>: reads the block's input, that of the
//                     SkipInput Span layers back (ForwardArgs::skip), with the block's output;
//                     backward, sets the skip's share of its gradient aside
//                     (BackwardArgs::skip_gradient: a batch of the block's input, one buffer per
//                     block) for the SkipInput
// Blocks nest: each join names its own SkipInput. Model fuses a ReLU only into the layer right
// before it, so no ReLU is fused across a block's edges: the block's input is what the layer
// before it output.
#pragma once

#include <cstddef>

#include "strata/core/layer.hpp"

namespace strata {

// Names supplies the marker's `kind` and `name()` (which block it opens, for summaries).
template <class Names>
struct SkipInput : LayerDefaults {
  static constexpr bool passes_input_on = true;
  static constexpr const char* kind = Names::kind;
  static constexpr CompileText name() { return Names::name(); }
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

// Whether layer L is a skip block's SkipInput.
template <class L>
constexpr bool passes_input_on() {
  return requires { requires L::passes_input_on; };
}

// How many layers back the SkipInput of layer L is (0: L is not a skip block's join).
template <class L>
constexpr std::size_t skip_span_of() {
  if constexpr (requires { L::skip_span; }) return L::skip_span;
  else return 0;
}

// Whether layer L joins by stacking channels (ConcatJoin: its output has the block's input's
// channels and then the block's) rather than by adding (ResidualAdd: the shape is kept).
template <class L>
constexpr bool joins_channels() {
  return requires { requires L::joins_channels; };
}

}  // namespace strata
