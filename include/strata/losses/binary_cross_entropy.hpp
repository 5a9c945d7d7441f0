// strata/losses/binary_cross_entropy.hpp: binary cross-entropy on probabilities (after a Sigmoid).
//
//   l(p, t) = -(t log p + (1 - t) log(1 - p)), p clamped to [1e-7, 1 - 1e-7] (Keras' epsilon)
//   requires targets in [0, 1]; pixel_weights: empty, or one weight per output pixel (H x W),
//   broadcast over the batch and the channels (see losses/loss.hpp for the reduction).
#pragma once

#include <span>

#include "strata/losses/loss.hpp"

namespace strata {

struct BinaryCrossEntropy {
  static constexpr LossFunction function = LossFunction::binary_cross_entropy;
  std::span<const float> pixel_weights{};
};

}  // namespace strata
