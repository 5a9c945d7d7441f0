// tests/support/channels_last.hpp: batches moved between NCHW and channels-last (NHWC) on the
// host, value by value as backend/cuda/layout.cuh's transpose kernel writes them (through
// core/layout.hpp's ImageLayout), for tests that replay the CUDA backend's channels-last kernels.
#pragma once

#include <cstddef>
#include <vector>

#include <strata/core/layout.hpp>
#include <strata/core/shape.hpp>

namespace strata::testing {

// `images` images of dims d, written in the target layout from the other.
inline std::vector<float> transposed(const std::vector<float>& from, int images, Dims d, bool to_channels_last) {
  const ImageLayout first = ImageLayout::of(d, false), last = ImageLayout::of(d, true);
  const ImageLayout& written = to_channels_last ? last : first;
  const ImageLayout& read = to_channels_last ? first : last;
  std::vector<float> to(from.size());
  for (int n = 0; n < images; ++n) {
    const std::size_t base = static_cast<std::size_t>(n) * d.size();
    for (int r = 0; r < first.image_size(); ++r)
      to[base + r] = from[base + read.offset(written.channel_at(r), written.pixel_at(r))];
  }
  return to;
}
inline std::vector<float> to_channels_last(const std::vector<float>& v, int images, Dims d) {
  return transposed(v, images, d, true);
}
inline std::vector<float> to_channels_first(const std::vector<float>& v, int images, Dims d) {
  return transposed(v, images, d, false);
}

}  // namespace strata::testing
