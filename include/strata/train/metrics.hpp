// strata/train/metrics.hpp: what the trainer reports, accumulated on the host from the per-image
// sums the model makes where its output is (Model::output_sums, core/output_sums.hpp), or from a
// batch's predictions and targets on the host.
//
//   binary accuracy   mean over all values of round(prediction) == round(target) (Keras-style)
//   hole L1, L2       mean |p - t| and (p - t)^2 over the hole's pixels and channels
//   hole PSNR         per image 10 log10(1 / MSE over the hole), in dB, then the mean over
//                     images (values in [0, 1]; a perfect fill counts as 100 dB)
// Sums are accumulated over an epoch and divided once.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/core/output_sums.hpp"
#include "strata/core/shape.hpp"
#include "strata/core/tensor.hpp"
#include "strata/data/hole.hpp"

namespace strata::train {

using elementwise::round_half_away;  // its home until it moved to core/elementwise.hpp

struct Metrics {
  double loss = 0.0;
  double accuracy = 0.0;
  double hole_l1 = 0.0;
  double hole_l2 = 0.0;
  double hole_psnr = 0.0;
};

class MetricsAccumulator {
 public:
  // A batch: its loss (a mean over the batch) and, per image, the sums of its output against its
  // target over the hole (Model::output_sums, core/output_sums.hpp) for images of `dims`.
  void add(double batch_loss, std::span<const OutputSums> images, Dims dims, const data::Hole& hole) {
    const int batch = static_cast<int>(images.size());
    loss_sum_ += batch_loss * batch;
    images_ += static_cast<std::size_t>(batch);
    const double count = static_cast<double>(hole.pixels()) * dims.c;
    for (const OutputSums& s : images) {
      correct_ += s.matching;
      values_ += static_cast<double>(dims.size());
      l1_sum_ += s.l1 / count;
      l2_sum_ += s.l2 / count;
      psnr_sum_ += psnr(s.l2 / count);
    }
  }

  // The same from a batch's predictions and targets on the host (NCHW).
  void add(double batch_loss, std::span<const float> prediction, std::span<const float> target, int batch, Dims dims,
           const data::Hole& hole) {
    std::vector<OutputSums> sums(static_cast<std::size_t>(batch));
    host_output_sums(BasicTensor<const float>{prediction.data(), batch, dims},
                     BasicTensor<const float>{target.data(), batch, dims}, hole.input_blank(), sums.data());
    add(batch_loss, sums, dims, hole);
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
