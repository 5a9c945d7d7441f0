// strata/data/hole.hpp: the region of an image that is blanked in the input and must be filled.
//
// The IFT6266 task blanks the centre 32x32 of a 64x64 image (rows and columns 16..47). Any
// rectangle inside the image works; the same Hole gives the input mask, the loss's pixel weights
// and the metrics' region.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/core/blank.hpp"

namespace strata::data {

struct Hole {
  int top = 16;
  int left = 16;
  int height = 32;
  int width = 32;

  // The centred hole of a given size.
  static Hole centred(int image_side, int hole_side) {
    return {(image_side - hole_side) / 2, (image_side - hole_side) / 2, hole_side, hole_side};
  }

  bool contains(int y, int x) const { return y >= top && y < top + height && x >= left && x < left + width; }
  std::size_t pixels() const { return static_cast<std::size_t>(height) * static_cast<std::size_t>(width); }

  // Throws std::invalid_argument unless the hole is not empty and lies inside the image (the
  // rule Model checks the rectangle it blanks by).
  void validate(int image_height, int image_width) const {
    if (const std::string why = input_blank().check(Dims{1, image_height, image_width}, "hole"); !why.empty())
      throw std::invalid_argument(why);
  }

  // One weight per pixel: 1 inside the hole, 0 outside (BinaryCrossEntropy{weights} then averages
  // over the hole only).
  std::vector<float> pixel_weights(int image_height, int image_width) const {
    std::vector<float> w(static_cast<std::size_t>(image_height) * image_width, 0.0f);
    for (int y = top; y < top + height; ++y)
      for (int x = left; x < left + width; ++x) w[static_cast<std::size_t>(y) * image_width + x] = 1.0f;
    return w;
  }

  // The hole as the rectangle Model blanks in every channel of its input on the device.
  BlankRectangle input_blank(float fill = 0.0f) const { return {top, left, height, width, fill}; }

  // Sets the hole of every channel of one CHW float image to `fill`, by the rule the model's
  // backends blank their input with (core/blank.hpp).
  void blank(float* chw, int channels, int image_height, int image_width, float fill = 0.0f) const {
    const std::size_t plane = static_cast<std::size_t>(image_height) * static_cast<std::size_t>(image_width);
    for (int c = 0; c < channels; ++c)
      for (int i = 0; i < height * width; ++i)
        chw[c * plane + blank_pixel_offset(top, left, width, image_width, i)] = fill;
  }
};

}  // namespace strata::data
