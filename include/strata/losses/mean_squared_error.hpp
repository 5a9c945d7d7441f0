// strata/losses/mean_squared_error.hpp: mean squared error.
//
//   l(p, t) = (p - t)^2
//   pixel_weights: empty, or one weight per output pixel (H x W), broadcast over the batch and the
//   channels (see losses/loss.hpp for the reduction).
#pragma once

#include <span>

#include "strata/losses/loss.hpp"

namespace strata {

struct MeanSquaredError {
  static constexpr LossFunction function = LossFunction::mean_squared_error;
  std::span<const float> pixel_weights{};
};

}  // namespace strata
