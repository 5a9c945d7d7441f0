// strata/layers/concat.hpp: a concatenating skip block, y = [x, Block(x)] along the channels.
//
// Concat<Elements...>: input C x H x W -> output (C + C') x H x W, where the block maps C x H x W
// to C' x H x W: the output's first C channels are the block's input, the next C' its output
// (PyTorch's torch.cat([x, block(x)], dim=1)); its parameters are its layers'; it requires a block
// that keeps the height and width (one that does not fails to compile, naming the block's index
// and both shapes). A U-Net's level is such a block: the encoder's features at a resolution go
// round everything below it and meet the decoder's at the same resolution:
//
//   template <int F, class Inner>
//   using Level = Sequential<Conv<F, 3>, ReLU, Concat<MaxPool<2>, Inner, Upsample<2>>, Conv<F, 3>, ReLU>;
//
// Sequential flattens it into ConcatInput, the block's layers and ConcatJoin<Span>
// (layers/skip.hpp says how a skip block runs):
//   ConcatJoin<Span>  y = the block's input's channels, then the block's output's; backward, the
//                     first channels' gradient is set aside for ConcatInput (which adds it to the
//                     block's input gradient), the others go on into the block.
// The shape rule needs the block's input, so model/sequential.hpp computes ConcatJoin's output
// shape (its output_dims alone cannot see that far back).
#pragma once

#include <cstddef>

#include "strata/core/layer.hpp"
#include "strata/layers/skip.hpp"

namespace strata {

// A concatenating skip block; only meaningful inside a Sequential, which flattens it.
template <class... Elements>
struct Concat {};

struct ConcatNames {
  static constexpr const char* kind = "concat_input";
  static constexpr CompileText name() { return "Concat input"; }
};
using ConcatInput = SkipInput<ConcatNames>;

template <std::size_t Span>
struct ConcatJoin : LayerDefaults {
  static_assert(Span >= 2, "strata::ConcatJoin: a block has at least one layer");
  static constexpr std::size_t skip_span = Span;
  static constexpr bool joins_channels = true;
  static constexpr const char* kind = "concat_join";
  static constexpr CompileText name() { return "Concat join"; }
  static constexpr double forward_flops(Dims) { return 0.0; }  // copies only
  static constexpr double backward_flops(Dims, bool) { return 0.0; }

  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    Device::concat_channels(a.skip, a.x, a.y, a.step);
  }
  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    const Dims skip{a.dy.dims.c - a.x.dims.c, a.dy.dims.h, a.dy.dims.w};
    Device::split_channels(a.dy, BasicTensor<T>{a.skip_gradient, a.dy.batch, skip}, a.dx, a.step);
  }
};

}  // namespace strata
