// strata/data/procedural.hpp: built-in training data that needs no files.
//
// Deterministic 64x64 (or any size) RGB scenes: a sky gradient over a horizon, textured ground
// (stripes, checks or waves), a few discs, boxes and triangles, and mild noise. Image i of seed s
// is always the same, so the demo, the tests and the resume checks are reproducible. The
// structure continues across the blanked centre, so inpainting it is learnable.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/core/random.hpp"
#include "strata/data/image_set.hpp"

namespace strata::data {

inline void procedural_scene(std::uint64_t seed, int side, std::uint8_t* hwc) {
  SplitMix rng(mix64(seed) ^ 0x5ca1ab1eull);
  auto colour = [&](double* c) {
    for (int k = 0; k < 3; ++k) c[k] = 0.1 + 0.8 * rng.uniform();
  };
  double sky_top[3], sky_bottom[3], ground[3], ground2[3];
  colour(sky_top);
  colour(sky_bottom);
  colour(ground);
  colour(ground2);
  const double s = side;
  const double horizon = s * (0.3 + 0.4 * rng.uniform());
  const double tilt = (rng.uniform() - 0.5) * 0.6;
  const int texture = static_cast<int>(rng.next() % 3);
  const double frequency = (0.15 + 0.5 * rng.uniform()) * 64.0 / s;
  const double angle = rng.uniform() * 3.14159;

  struct Shape {
    int kind;
    double x, y, r, c[3];
  };
  const int shape_count = 1 + static_cast<int>(rng.next() % 4);
  std::vector<Shape> shapes(static_cast<std::size_t>(shape_count));
  for (auto& sh : shapes) {
    sh.kind = static_cast<int>(rng.next() % 3);
    sh.x = s * rng.uniform();
    sh.y = s * rng.uniform();
    sh.r = s * (0.06 + 0.2 * rng.uniform());
    colour(sh.c);
  }
  const double noise = 0.02 + 0.04 * rng.uniform();

  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      double px[3];
      const double line = horizon + tilt * (x - s / 2);
      if (y < line) {
        const double t = y / std::max(line, 1.0);
        for (int k = 0; k < 3; ++k) px[k] = sky_top[k] * (1 - t) + sky_bottom[k] * t;
      } else {
        const double u = x * std::cos(angle) + y * std::sin(angle);
        const double v = -x * std::sin(angle) + y * std::cos(angle);
        double m = 0.0;
        if (texture == 0) m = std::sin(frequency * u) > 0 ? 1.0 : 0.0;
        if (texture == 1) m = (static_cast<int>(std::floor(frequency * u / 2)) + static_cast<int>(std::floor(frequency * v / 2))) & 1;
        if (texture == 2) m = 0.5 + 0.5 * std::sin(frequency * u + 2 * std::sin(frequency * v / 3));
        const double depth = 0.7 + 0.3 * (y - line) / std::max(s - line, 1.0);
        for (int k = 0; k < 3; ++k) px[k] = depth * (ground[k] * (1 - m) + ground2[k] * m);
      }
      for (const auto& sh : shapes) {
        const double dx = x - sh.x, dy = y - sh.y;
        bool inside = false;
        if (sh.kind == 0) inside = dx * dx + dy * dy < sh.r * sh.r;
        if (sh.kind == 1) inside = std::abs(dx) < sh.r && std::abs(dy) < sh.r * 0.7;
        if (sh.kind == 2) inside = dy < sh.r && dy > -sh.r && std::abs(dx) < (sh.r - dy) * 0.6;
        if (inside) {
          const double shade = 0.85 + 0.15 * (-dx - dy) / (2 * sh.r);
          for (int k = 0; k < 3; ++k) px[k] = sh.c[k] * shade;
        }
      }
      for (int k = 0; k < 3; ++k) {
        const double value = px[k] + noise * (2 * uniform01(seed, 17, (static_cast<std::uint64_t>(y) * side + x) * 3 + k) - 1);
        hwc[(static_cast<std::size_t>(y) * side + x) * 3 + k] = static_cast<std::uint8_t>(std::clamp(value, 0.0, 1.0) * 255.0 + 0.5);
      }
    }
  }
}

// `count` scenes, images first_seed, first_seed + 1, ...
inline ImageSet procedural_images(std::size_t count, std::uint64_t first_seed, int side = 64) {
  ImageSet set;
  set.side = side;
  set.pixels.resize(count * set.image_bytes());
  set.names.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    procedural_scene(first_seed + i, side, set.pixels.data() + i * set.image_bytes());
    set.names.push_back("generated:" + std::to_string(first_seed + i));
  }
  return set;
}

}  // namespace strata::data
