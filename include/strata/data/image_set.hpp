// strata/data/image_set.hpp: a set of same-sized RGB images kept as uint8 in memory.
//
// Decoded once, then converted to float batches on demand: 64x64x3 bytes per image, so the
// 101,000 Tiny ImageNet photos take 1.2 GB, a quarter of their float size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace strata::data {

struct ImageSet {
  int side = 64;                      // every image is side x side x 3, stored HWC
  std::vector<std::uint8_t> pixels;   // count() * image_bytes()
  std::vector<std::string> names;     // where each image came from (a path, or "generated:N")

  std::size_t image_bytes() const { return static_cast<std::size_t>(side) * side * 3; }
  std::size_t count() const { return names.size(); }
  std::span<const std::uint8_t> image(std::size_t i) const { return {pixels.data() + i * image_bytes(), image_bytes()}; }

  void append(std::span<const std::uint8_t> hwc, std::string name) {
    if (hwc.size() != image_bytes())
      throw std::invalid_argument("ImageSet::append: expected " + std::to_string(image_bytes()) + " bytes for " + name);
    pixels.insert(pixels.end(), hwc.begin(), hwc.end());
    names.push_back(std::move(name));
  }
};

// Splits off the images at `indices` into a new set (used for --val-split).
inline ImageSet select(const ImageSet& set, std::span<const std::size_t> indices) {
  ImageSet out;
  out.side = set.side;
  out.pixels.reserve(indices.size() * set.image_bytes());
  for (std::size_t i : indices) out.append(set.image(i), set.names[i]);
  return out;
}

}  // namespace strata::data
