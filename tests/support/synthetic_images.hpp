// tests/support/synthetic_images.hpp: smooth test images in (0, 1), different per sample.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <strata/core/random.hpp>
#include <strata/core/shape.hpp>

namespace strata::testing {

// Stripes and blobs: a sine of the position with a per-sample frequency and phase.
inline std::vector<float> synthetic_images(int batch, Dims d, std::uint64_t seed) {
  SplitMix rng(seed);
  std::vector<float> x(static_cast<std::size_t>(batch) * d.size());
  for (int n = 0; n < batch; ++n) {
    const double fx = 0.2 + 0.6 * rng.uniform(), fy = 0.2 + 0.6 * rng.uniform(), phase = 6.28 * rng.uniform();
    for (int c = 0; c < d.c; ++c)
      for (int i = 0; i < d.h; ++i)
        for (int j = 0; j < d.w; ++j)
          x[((static_cast<std::size_t>(n) * d.c + c) * d.h + i) * d.w + j] =
              static_cast<float>(0.5 + 0.45 * std::sin(fx * j + fy * i + phase + c));
  }
  return x;
}

}  // namespace strata::testing
