// strata/layers/tanh.hpp: hyperbolic tangent, y = tanh(x).
//
// Tanh: input C x H x W -> output C x H x W in (-1, 1); no parameters.
#pragma once

#include "strata/layers/activation.hpp"

namespace strata {

struct Tanh : ActivationLayer<Tanh> {
  static constexpr const char* kind = "tanh";
  static constexpr ActivationSpec activation{Activation::tanh, 0.0f};
  static constexpr CompileText name() { return "Tanh"; }
};

}  // namespace strata
