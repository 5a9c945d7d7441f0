// strata/train/canvas.hpp: a small RGB raster for the trainer's pictures, saved as PNG.
//
// Debian 12 has no C++ plotting library that writes PNG without a plotting program or a GUI
// toolkit behind it, so the curves are drawn here: lines, rectangles, images and text (text
// from stb_easy_font, which returns the quads of a simple bitmap font). PNG encoding is
// stb_image_write's, and the file is written atomically.
#pragma once

#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/io/atomic_file.hpp"

namespace strata::train {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255})
      : width_(width), height_(height), pixels_(static_cast<std::size_t>(width) * height * 3) {
    fill_rect(0, 0, width, height, background);
  }

  int width() const { return width_; }
  int height() const { return height_; }

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }

  void fill_rect(int x, int y, int w, int h, Rgb c) {
    for (int j = std::max(0, y); j < std::min(height_, y + h); ++j)
      for (int i = std::max(0, x); i < std::min(width_, x + w); ++i) set(i, j, c);
  }

  // A line `thickness` pixels wide (a square brush stepped along the line).
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1) {
    const double steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1.0}) * 2;
    for (int s = 0; s <= static_cast<int>(steps); ++s) {
      const double t = s / steps;
      const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
      const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
      fill_rect(x - thickness / 2, y - thickness / 2, thickness, thickness, c);
    }
  }

  // Text with its top-left corner at (x, y), each font pixel drawn as scale x scale.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1) {
    static thread_local std::vector<char> buffer(1 << 16);
    const int quads = stb_easy_font_print(0, 0, const_cast<char*>(s.c_str()), nullptr, buffer.data(),
                                          static_cast<int>(buffer.size()));
    // Each quad: 4 vertices of (x, y, z float, colour 4 bytes) = 16 bytes.
    for (int q = 0; q < quads; ++q) {
      const float* v0 = reinterpret_cast<const float*>(buffer.data() + q * 64);
      const float* v2 = reinterpret_cast<const float*>(buffer.data() + q * 64 + 32);
      fill_rect(x + static_cast<int>(v0[0]) * scale, y + static_cast<int>(v0[1]) * scale,
                static_cast<int>(v2[0] - v0[0]) * scale, static_cast<int>(v2[1] - v0[1]) * scale, c);
    }
  }
  static int text_width(const std::string& s, int scale = 1) {
    return stb_easy_font_width(const_cast<char*>(s.c_str())) * scale;
  }

  // Draws an RGB image (HWC uint8) with each pixel as zoom x zoom.
  void image(int x, int y, const std::uint8_t* hwc, int w, int h, int zoom = 1) {
    for (int j = 0; j < h; ++j)
      for (int i = 0; i < w; ++i) {
        const std::uint8_t* p = hwc + (static_cast<std::size_t>(j) * w + i) * 3;
        fill_rect(x + i * zoom, y + j * zoom, zoom, zoom, {p[0], p[1], p[2]});
      }
  }

  void save_png(const std::filesystem::path& path) const {
    std::vector<unsigned char> bytes;
    auto sink = [](void* context, void* data, int size) {
      auto* out = static_cast<std::vector<unsigned char>*>(context);
      out->insert(out->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
    };
    if (!stbi_write_png_to_func(sink, &bytes, width_, height_, 3, pixels_.data(), width_ * 3))
      throw io::FileError("cannot encode " + path.string() + " as PNG");
    io::write_file_atomically(path, bytes);
  }

 private:
  int width_, height_;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace strata::train
