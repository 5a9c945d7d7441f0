// strata/core/shape.hpp: compile-time image shapes (channels x height x width).
//
// The batch size is a run-time value; everything else about a tensor's shape is known at compile
// time. `Dims` is the same shape as a plain value, so shape rules are ordinary constexpr
// functions and kernels take run-time extents without being instantiated per shape.
#pragma once

#include <cstddef>
#include <string>

#include "strata/core/host_device.hpp"

namespace strata {

// A C x H x W shape as a value. Usable in constant expressions.
struct Dims {
  int c = 0;
  int h = 0;
  int w = 0;

  // Also callable in CUDA kernels, which take Dims by value.
  STRATA_HOST_DEVICE constexpr std::size_t size() const {
    return static_cast<std::size_t>(c) * static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  }
  STRATA_HOST_DEVICE constexpr std::size_t plane() const {
    return static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  }
  constexpr bool operator==(const Dims&) const = default;

  std::string to_string() const {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }
};

// A C x H x W shape as a type; the batch dimension is added at run time.
template <int C, int H, int W>
struct Shape {
  static_assert(C > 0 && H > 0 && W > 0, "strata::Shape<C, H, W>: every extent must be positive");
  static constexpr int channels = C;
  static constexpr int height = H;
  static constexpr int width = W;
  static constexpr Dims dims{C, H, W};
  static constexpr std::size_t size = dims.size();
};

// First element of every Sequential: the shape of one input sample.
template <int C, int H, int W>
struct Input {
  using shape = Shape<C, H, W>;
};

}  // namespace strata
