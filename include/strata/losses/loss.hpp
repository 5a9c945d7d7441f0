// strata/losses/loss.hpp: what the losses share: the function, the optional pixel weights, and
// how the mean is taken.
//
// value    = sum over (n, c, h, w) of m[h, w] * l(p, t) / (N * C * sum of m)
// gradient = m[h, w] * dl/dp / (N * C * sum of m), written into the output gradient buffer
// With no weights, m = 1 everywhere: the plain mean over all elements (Keras' and PyTorch's
// reduction). A weight mask of the hole's pixels makes the loss the mean over the hole only.
#pragma once

#include <limits>
#include <span>
#include <stdexcept>
#include <string>

#include "strata/core/shape.hpp"

namespace strata {

enum class LossFunction : unsigned char { binary_cross_entropy, mean_squared_error };

// N * C * (sum of the pixel weights, or H * W without them): what both backends divide by.
inline double loss_denominator(std::span<const float> pixel_weights, int batch, Dims output) {
  double weight_sum = static_cast<double>(output.plane());
  if (!pixel_weights.empty()) {
    weight_sum = 0.0;
    for (float w : pixel_weights) weight_sum += w;
  }
  return static_cast<double>(batch) * output.c * weight_sum;
}

// Checks pixel weights against the model's output shape; throws std::invalid_argument.
inline void validate_pixel_weights(std::span<const float> weights, Dims output) {
  if (weights.empty()) return;
  if (weights.size() != output.plane())
    throw std::invalid_argument("loss pixel_weights: expected " + std::to_string(output.plane()) +
                                " values (output height x width = " + std::to_string(output.h) + "x" +
                                std::to_string(output.w) + "), got " + std::to_string(weights.size()));
  double total = 0.0;
  for (float w : weights) {
    if (!(w >= 0.0f) || w == std::numeric_limits<float>::infinity())
      throw std::invalid_argument("loss pixel_weights: every weight must be finite and >= 0");
    total += w;
  }
  if (total <= 0.0) throw std::invalid_argument("loss pixel_weights: the weights sum to zero");
}

}  // namespace strata
