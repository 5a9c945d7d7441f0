// strata/core/random.hpp: counter-based random numbers, identical on the host and the device.
//
// Weight initialisation and dropout masks are functions of (seed, stream, index), not of a
// generator's hidden state, so they are reproducible whatever the thread count or device, and a
// dropout mask can be recomputed in the backward pass instead of being stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "strata/core/host_device.hpp"

namespace strata {

// SplitMix64 finaliser: a good 64-bit mixing function.
STRATA_HOST_DEVICE inline constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A uniform float in [0, 1) for element `index` of stream `stream` under `seed`.
STRATA_HOST_DEVICE inline constexpr float uniform01(std::uint64_t seed, std::uint64_t stream,
                                                    std::uint64_t index) {
  const std::uint64_t bits = mix64(mix64(seed ^ mix64(stream)) + index);
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // 24 random mantissa bits
}

// The random stream of the dropout layer at `layer_index` in training step `step`: a function of
// both, so every step draws a new mask and both backends draw the same one.
STRATA_HOST_DEVICE inline constexpr std::uint64_t dropout_stream(std::uint64_t step, int layer_index) {
  return mix64(step) ^ static_cast<std::uint64_t>(layer_index);
}

// A small sequential generator for host-side work (shuffling, test data).
class SplitMix {
 public:
  explicit constexpr SplitMix(std::uint64_t seed) : state_(seed) {}
  constexpr std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  constexpr float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  constexpr std::uint64_t state() const { return state_; }

 private:
  std::uint64_t state_;
};

// 0 .. count-1 in an order that is a pure function of `seed` (a Fisher-Yates shuffle).
inline std::vector<std::size_t> shuffled_indices(std::size_t count, std::uint64_t seed) {
  std::vector<std::size_t> order(count);
  for (std::size_t i = 0; i < count; ++i) order[i] = i;
  SplitMix rng(seed);
  for (std::size_t i = count; i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
  return order;
}

}  // namespace strata
