// strata/train/metrics.hpp: what the trainer reports, computed on the host from a batch's
// predictions and targets.
//
//   binary accuracy   mean over all values of round(prediction) == round(target) (Keras-style)
//   hole L1, L2       mean |p - t| and (p - t)^2 over the hole's pixels and channels
//   hole PSNR         per image 10 log10(1 / MSE over the hole), in dB, then the mean over
//                     images (values in [0, 1]; a perfect fill counts as 100 dB)
// Sums are accumulated over an epoch and divided once.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>

#include "strata/core/shape.hpp"
#include "strata/data/hole.hpp"

namespace strata::train {

struct Metrics {
  double loss = 0.0;
  double accuracy = 0.0;
  double hole_l1 = 0.0;
  double hole_l2 = 0.0;
  double hole_psnr = 0.0;
};

// std::round(x) (halves away from zero) on the float's bits, so that the accuracy loop
// vectorises: binary accuracy rounds 2 x 786,432 values per v1 batch of 64, which through libm's
// roundf took longer than a GPU training step (GCC vectorises neither roundf nor, under its
// default -ftrapping-math, truncf or a conversion to int). For 0 <= exponent < 23, half an
// integer unit is added to the magnitude and the fraction bits cleared (a carry into the
// exponent is right); [0.5, 1) rounds to 1, smaller magnitudes to 0; from 2^23 on a float is
// whole, infinite or NaN and stays as it is. The sign is kept, as std::round keeps it (-0.3 -> -0).
inline float round_half_away(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t sign = bits & 0x80000000u;
  const std::uint32_t magnitude = bits ^ sign;
  const int exponent = static_cast<int>(magnitude >> 23) - 127;
  const int fraction_bits = std::clamp(23 - exponent, 1, 23);  // only used where 0 <= exponent < 23
  const std::uint32_t fraction_mask = (std::uint32_t{1} << fraction_bits) - 1u;
  const std::uint32_t rounded = (magnitude + (std::uint32_t{1} << (fraction_bits - 1))) & ~fraction_mask;
  const std::uint32_t result = exponent >= 23   ? magnitude
                               : exponent >= 0  ? rounded
                               : exponent == -1 ? 0x3F800000u  // 1.0f
                                                : 0u;
  return std::bit_cast<float>(result | sign);
}

class MetricsAccumulator {
 public:
  // A batch: its loss (a mean over the batch) and its predictions and targets (NCHW).
  void add(double batch_loss, std::span<const float> prediction, std::span<const float> target, int batch, Dims dims,
           const data::Hole& hole) {
    loss_sum_ += batch_loss * batch;
    images_ += batch;
    const std::size_t sample = dims.size();
    for (int n = 0; n < batch; ++n) {
      const float* p = prediction.data() + n * sample;
      const float* t = target.data() + n * sample;
      std::uint32_t correct = 0;  // a sample has fewer than 2^32 values (Dims are ints)
      for (std::size_t i = 0; i < sample; ++i)
        correct += static_cast<std::uint32_t>(round_half_away(p[i]) == round_half_away(t[i]));
      correct_ += static_cast<double>(correct);
      values_ += static_cast<double>(sample);
      double l1 = 0.0, l2 = 0.0;
      for (int c = 0; c < dims.c; ++c)
        for (int y = hole.top; y < hole.top + hole.height; ++y)
          for (int x = hole.left; x < hole.left + hole.width; ++x) {
            const std::size_t i = (static_cast<std::size_t>(c) * dims.h + y) * dims.w + x;
            const double d = static_cast<double>(p[i]) - static_cast<double>(t[i]);
            l1 += std::abs(d);
            l2 += d * d;
          }
      const double count = static_cast<double>(hole.pixels()) * dims.c;
      l1_sum_ += l1 / count;
      l2_sum_ += l2 / count;
      psnr_sum_ += psnr(l2 / count);
    }
  }

  static double psnr(double mse) { return mse <= 1e-10 ? 100.0 : 10.0 * std::log10(1.0 / mse); }

  Metrics result() const {
    if (images_ == 0) return {};
    const double n = static_cast<double>(images_);
    return {loss_sum_ / n, correct_ / values_, l1_sum_ / n, l2_sum_ / n, psnr_sum_ / n};
  }
  std::size_t images() const { return images_; }

  // The sums as text (every double to all 17 digits), so that an epoch interrupted by a
  // checkpoint resumes with exactly the figures it had; from_text reads them back.
  std::string to_text() const {
    char text[256];
    std::snprintf(text, sizeof text, "%.17g %.17g %.17g %.17g %.17g %.17g %zu", loss_sum_, correct_, values_, l1_sum_,
                  l2_sum_, psnr_sum_, images_);
    return text;
  }
  static MetricsAccumulator from_text(const std::string& text) {
    MetricsAccumulator m;
    if (std::sscanf(text.c_str(), "%lf %lf %lf %lf %lf %lf %zu", &m.loss_sum_, &m.correct_, &m.values_, &m.l1_sum_,
                    &m.l2_sum_, &m.psnr_sum_, &m.images_) != 7)
      throw std::invalid_argument("malformed metric sums '" + text + "'");
    return m;
  }

 private:
  double loss_sum_ = 0.0, correct_ = 0.0, values_ = 0.0, l1_sum_ = 0.0, l2_sum_ = 0.0, psnr_sum_ = 0.0;
  std::size_t images_ = 0;
};

}  // namespace strata::train
