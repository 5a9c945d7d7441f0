// strata/backend/cpu/blank.hpp: setting a rectangle of every plane of a batch to one value
// (core/blank.hpp), the input side of Model's inpainting train_step.
#pragma once

#include <cstddef>

#include "strata/core/blank.hpp"
#include "strata/core/shape.hpp"

namespace strata::cpu {

template <class T>
void blank_rectangle(T* images, int batch, Dims dims, const BlankRectangle& r) {
  const std::size_t planes = static_cast<std::size_t>(batch) * static_cast<std::size_t>(dims.c);
  const T fill = static_cast<T>(r.fill);
  for (std::size_t p = 0; p < planes; ++p) {
    T* plane = images + p * dims.plane();
    for (int i = 0; i < r.pixels(); ++i) plane[blank_pixel_offset(r.top, r.left, r.width, dims.w, i)] = fill;
  }
}

}  // namespace strata::cpu
