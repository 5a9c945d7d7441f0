// strata/layers/sigmoid.hpp: logistic sigmoid, y = 1 / (1 + exp(-x)).
//
// Sigmoid: input C x H x W -> output C x H x W in (0, 1); no parameters. The usual last layer
// before BinaryCrossEntropy.
#pragma once

#include "strata/layers/activation.hpp"

namespace strata {

struct Sigmoid : ActivationLayer<Sigmoid> {
  static constexpr const char* kind = "sigmoid";
  static constexpr ActivationSpec activation{Activation::sigmoid, 0.0f};
  static constexpr CompileText name() { return "Sigmoid"; }
};

}  // namespace strata
