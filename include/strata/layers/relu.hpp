// strata/layers/relu.hpp: rectified linear unit, y = max(x, 0).
//
// ReLU: input C x H x W -> output C x H x W; no parameters; gradient 0 where y == 0.
#pragma once

#include "strata/layers/activation.hpp"

namespace strata {

struct ReLU : ActivationLayer<ReLU> {
  static constexpr const char* kind = "relu";
  static constexpr ActivationSpec activation{Activation::relu, 0.0f};
  static constexpr CompileText name() { return "ReLU"; }
};

}  // namespace strata
