// tests/support/fixed_batch.hpp: does a network learn? Its loss on one fixed batch, before and
// after some Adam steps.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <strata/strata.hpp>

namespace strata::testing {

// The first and the last loss of `steps` + 1 Adam steps (lr 1e-2) of Net on one batch of 4
// random images in [0, 1) that are their own targets (binary cross-entropy).
template <class Net>
std::pair<float, float> fixed_batch_losses(std::uint64_t seed, int steps = 30) {
  Model<Net, Cpu> model(4, 3);
  std::vector<float> x(4 * Net::input_shape::size);
  SplitMix rng(seed);
  for (float& v : x) v = static_cast<float>(rng.uniform());
  Adam adam;
  adam.lr = 1e-2;
  const float first = model.train_step(x, x, 4, BinaryCrossEntropy{}, adam);
  float last = first;
  for (int step = 0; step < steps; ++step) last = model.train_step(x, x, 4, BinaryCrossEntropy{}, adam);
  return {first, last};
}

}  // namespace strata::testing
