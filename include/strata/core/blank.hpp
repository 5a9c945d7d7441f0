// strata/core/blank.hpp: a rectangle of every channel of an input image set to one value, as an
// inpainting task blanks its hole, and the per-pixel rule both backends run to do it.
//
// Model::train_step(images, rectangle, ...) trains on whole images whose input is the image with
// the rectangle blanked: the batch crosses to the device once and the backend blanks it there
// (Cpu and Cuda blank_rectangle, one block of threads per plane on the GPU).
#pragma once

#include <cstddef>
#include <string>

#include "strata/core/host_device.hpp"
#include "strata/core/shape.hpp"

namespace strata {

struct BlankRectangle {
  int top = 0;
  int left = 0;
  int height = 0;
  int width = 0;
  float fill = 0.0f;

  constexpr int pixels() const { return height * width; }

  // Empty when the rectangle is not empty and lies inside a plane of `d`, else why not, calling
  // the rectangle `name` (data::Hole says "hole").
  std::string check(Dims d, const char* name = "the blanked rectangle") const {
    if (height >= 1 && width >= 1 && top >= 0 && left >= 0 && top + height <= d.h && left + width <= d.w) return {};
    return std::string(name) + " " + std::to_string(height) + "x" + std::to_string(width) + " at (" +
           std::to_string(top) + ", " + std::to_string(left) + ") does not fit in a " + std::to_string(d.h) + "x" +
           std::to_string(d.w) + " image";
  }
};

// Offset, within a plane `plane_width` values wide, of the rectangle's pixel i in row-major order
// (0 <= i < r.pixels()).
STRATA_HOST_DEVICE inline std::size_t blank_pixel_offset(int top, int left, int width, int plane_width, int i) {
  return static_cast<std::size_t>(top + i / width) * static_cast<std::size_t>(plane_width) +
         static_cast<std::size_t>(left + i % width);
}

}  // namespace strata
