// strata/train/pictures.hpp: the run folder's pictures.
//
//   curves.png            loss, binary accuracy and hole PSNR per epoch, train and validation
//   samples_epochNNN.png  one row per fixed validation image: masked input | prediction | truth
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "strata/core/shape.hpp"
#include "strata/train/canvas.hpp"
#include "strata/train/history.hpp"

namespace strata::train {

namespace detail {

inline std::string format_value(double v) {
  char s[32];
  std::snprintf(s, sizeof s, std::abs(v) >= 100 ? "%.1f" : "%.3f", v);
  return s;
}

// One panel: a framed plot of two series over epochs with min/max labels.
inline void plot_panel(Canvas& c, int x, int y, int w, int h, const std::string& title, const std::vector<int>& epochs,
                       const std::vector<double>& train, const std::vector<double>& validation) {
  const Rgb axis{60, 60, 60}, grid{225, 225, 225}, blue{31, 119, 180}, orange{255, 127, 14};
  c.text(x + w / 2 - Canvas::text_width(title, 2) / 2, y, title, axis, 2);
  const int left = x + 52, top = y + 24, right = x + w - 10, bottom = y + h - 28;
  double lo = 1e300, hi = -1e300;
  for (const auto* series : {&train, &validation})
    for (double v : *series)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (lo > hi) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  const double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  for (int k = 0; k <= 4; ++k) {
    const int gy = bottom - (bottom - top) * k / 4;
    c.line(left, gy, right, gy, grid);
    const std::string label = format_value(lo + (hi - lo) * k / 4);
    c.text(left - 4 - Canvas::text_width(label), gy - 3, label, axis);
  }
  c.line(left, top, left, bottom, axis);
  c.line(left, bottom, right, bottom, axis);
  const int first = epochs.empty() ? 1 : epochs.front();
  const int last = epochs.empty() ? 1 : std::max(epochs.back(), first + 1);
  auto px = [&](int e) { return left + static_cast<double>(right - left) * (e - first) / (last - first); };
  auto py = [&](double v) { return bottom - (bottom - top) * (v - lo) / (hi - lo); };
  c.text(left, bottom + 6, std::to_string(first), axis);
  c.text(right - Canvas::text_width(std::to_string(last)), bottom + 6, std::to_string(last), axis);
  c.text((left + right) / 2 - 12, bottom + 14, "epoch", axis);
  const std::pair<const std::vector<double>*, Rgb> series[] = {{&train, blue}, {&validation, orange}};
  for (const auto& [values, colour] : series) {
    for (std::size_t i = 0; i < values->size(); ++i) {
      if (!std::isfinite((*values)[i])) continue;
      if (i > 0 && std::isfinite((*values)[i - 1]))
        c.line(px(epochs[i - 1]), py((*values)[i - 1]), px(epochs[i]), py((*values)[i]), colour, 2);
      c.fill_rect(static_cast<int>(px(epochs[i])) - 2, static_cast<int>(py((*values)[i])) - 2, 5, 5, colour);
    }
  }
}

}  // namespace detail

inline void save_curves(const std::filesystem::path& path, const std::vector<EpochRecord>& history) {
  const int panel_w = 340, panel_h = 260;
  Canvas c(panel_w * 3, panel_h + 30);
  std::vector<int> epochs;
  std::vector<double> series[6];
  for (const auto& r : history) {
    epochs.push_back(r.epoch);
    series[0].push_back(r.train.loss);
    series[1].push_back(r.validation.loss);
    series[2].push_back(r.train.accuracy);
    series[3].push_back(r.validation.accuracy);
    series[4].push_back(r.train.hole_psnr);
    series[5].push_back(r.validation.hole_psnr);
  }
  detail::plot_panel(c, 0, 4, panel_w, panel_h, "loss", epochs, series[0], series[1]);
  detail::plot_panel(c, panel_w, 4, panel_w, panel_h, "binary accuracy", epochs, series[2], series[3]);
  detail::plot_panel(c, 2 * panel_w, 4, panel_w, panel_h, "hole PSNR (dB)", epochs, series[4], series[5]);
  c.fill_rect(panel_w * 3 / 2 - 90, panel_h + 12, 14, 4, {31, 119, 180});
  c.text(panel_w * 3 / 2 - 70, panel_h + 8, "train", {60, 60, 60}, 2);
  c.fill_rect(panel_w * 3 / 2 + 10, panel_h + 12, 14, 4, {255, 127, 14});
  c.text(panel_w * 3 / 2 + 30, panel_h + 8, "validation", {60, 60, 60}, 2);
  c.save_png(path);
}

// Rows of masked input | prediction | truth, each image zoomed 2x. All three spans hold `count`
// CHW float images in [0, 1] of shape `dims`.
inline void save_sample_grid(const std::filesystem::path& path, std::span<const float> masked,
                             std::span<const float> prediction, std::span<const float> truth, int count, Dims dims,
                             const std::string& caption) {
  const int zoom = 2, gap = 4, header = 22;
  const int cell = dims.w * zoom;
  Canvas c(3 * cell + 4 * gap, header + count * (dims.h * zoom + gap) + gap, {40, 40, 40});
  const char* titles[3] = {"input", "prediction", "truth"};
  for (int k = 0; k < 3; ++k) c.text(gap + k * (cell + gap) + 4, 4, titles[k], {230, 230, 230});
  c.text(gap + 4, 13, caption, {160, 160, 160});
  std::vector<std::uint8_t> hwc(dims.plane() * 3);
  const std::span<const float> columns[3] = {masked, prediction, truth};
  for (int n = 0; n < count; ++n) {
    for (int k = 0; k < 3; ++k) {
      const float* chw = columns[k].data() + static_cast<std::size_t>(n) * dims.size();
      for (std::size_t p = 0; p < dims.plane(); ++p)
        for (int ch = 0; ch < 3; ++ch) {
          const float v = chw[(ch % dims.c) * dims.plane() + p];
          hwc[p * 3 + ch] = static_cast<std::uint8_t>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f);
        }
      c.image(gap + k * (cell + gap), header + gap + n * (dims.h * zoom + gap), hwc.data(), dims.w, dims.h, zoom);
    }
  }
  c.save_png(path);
}

}  // namespace strata::train
