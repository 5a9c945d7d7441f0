// strata/core/output_sums.hpp: per image, how a model's output compares with its target: the sums
// the trainer's metrics come from (train/metrics.hpp), made where the output is.
//
//   matching   how many values have round(output) == round(target) (Keras' binary accuracy)
//   l1, l2     sums of |output - target| and (output - target)^2 over a rectangle of every
//              channel (the inpainting hole), in double
// Model::output_sums computes them for its last output: strata::Cpu with image_output_sums
// below, strata::Cuda with one block of threads per image (backend/cuda/output_sums.cuh), so that
// a training step sends 3 numbers per image to the host instead of its output. Both apply the
// per-value rules here; the GPU adds in another order, so its l1 and l2 may differ in the last
// digits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "strata/core/blank.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/host_device.hpp"
#include "strata/core/shape.hpp"
#include "strata/core/tensor.hpp"

namespace strata {

struct OutputSums {
  double matching = 0.0;
  double l1 = 0.0;
  double l2 = 0.0;
};

// Whether a value counts as correct for binary accuracy.
STRATA_HOST_DEVICE inline bool rounds_alike(float output, float target) {
  return elementwise::round_half_away(output) == elementwise::round_half_away(target);
}

// Offset within one image of value i of the rectangle r of every channel (0 <= i < channels x
// r.pixels()): channel by channel, then the rectangle's rows; in a channels-last image
// (core/layout.hpp) pixel by pixel, each pixel's channels together.
STRATA_HOST_DEVICE inline std::size_t rectangle_value_offset(const BlankRectangle& r, Dims d, int i,
                                                             bool channels_last = false) {
  if (channels_last)
    return blank_pixel_offset(r.top, r.left, r.width, d.w, i / d.c) * static_cast<std::size_t>(d.c) +
           static_cast<std::size_t>(i % d.c);
  const int pixels = r.pixels();
  const int c = i / pixels;
  return static_cast<std::size_t>(c) * static_cast<std::size_t>(d.h) * static_cast<std::size_t>(d.w) +
         blank_pixel_offset(r.top, r.left, r.width, d.w, i - c * pixels);
}

// One image of dims d at `output` and `target`, on the host.
template <class T>
OutputSums image_output_sums(const T* output, const T* target, Dims d, const BlankRectangle& r) {
  OutputSums s;
  const std::size_t n = d.size();
  std::uint32_t matching = 0;  // an image has fewer than 2^32 values (Dims are ints)
  for (std::size_t i = 0; i < n; ++i)
    matching += static_cast<std::uint32_t>(rounds_alike(static_cast<float>(output[i]), static_cast<float>(target[i])));
  s.matching = static_cast<double>(matching);
  const int values = d.c * r.pixels();
  for (int i = 0; i < values; ++i) {
    const std::size_t at = rectangle_value_offset(r, d, i);
    const double diff = static_cast<double>(output[at]) - static_cast<double>(target[at]);
    s.l1 += std::abs(diff);
    s.l2 += diff * diff;
  }
  return s;
}

// Every image of a batch on the host into out[0, batch).
template <class T>
void host_output_sums(BasicTensor<const T> output, BasicTensor<const T> target, const BlankRectangle& r,
                      OutputSums* out) {
  for (int n = 0; n < output.batch; ++n) out[n] = image_output_sums(output.sample(n), target.sample(n), output.dims, r);
}

}  // namespace strata
