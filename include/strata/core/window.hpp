// strata/core/window.hpp: the per-pixel math of max pooling, nearest upsampling and explicit
// zero padding.
//
// Written once for both backends, as element-wise math is (core/elementwise.hpp): the CUDA
// kernels run one thread per output pixel, window or padded pixel (or four neighbouring channels
// of one) and call these functions, and the CPU tests check them against the CPU backend's loops. A plane is one channel of one
// sample, row-major; offsets within a plane fit in an int. `step` is the distance between a
// plane's neighbouring pixels: 1 in NCHW, the channel count where channels are last (NHWC: the
// pointer is then the image's first value of that channel; core/layout.hpp).
#pragma once

#include "strata/core/host_device.hpp"
#include "strata/core/packed.hpp"
#include "strata/core/shape.hpp"

namespace strata::window {

// ---- nearest upsampling by an integer factor f ----
// Output pixel (oy, ox): the input pixel it copies.
template <class T>
STRATA_HOST_DEVICE inline T upsample_nearest(const T* in, int in_w, int oy, int ox, int f, int step = 1) {
  return in[((oy / f) * in_w + ox / f) * step];
}

// Gradient of input pixel (iy, ix): the sum of its f x f block of output gradients, row by row
// (the CPU backend's order, so both round alike), added in Sum (float for bfloat16 gradients).
template <class T, class Sum = T>
STRATA_HOST_DEVICE inline Sum upsample_nearest_backward(const T* dy, int out_w, int iy, int ix, int f, int step = 1) {
  Sum sum = Sum(0);
  for (int r = 0; r < f; ++r) {
    const T* row = dy + ((iy * f + r) * out_w + ix * f) * step;
    for (int c = 0; c < f; ++c) sum += static_cast<Sum>(row[c * step]);
  }
  return sum;
}

// ---- k x k max pooling with stride k ----
// Output pixel (oy, ox): the maximum of its window.
template <class T>
STRATA_HOST_DEVICE inline T max_pool(const T* in, int in_w, int oy, int ox, int k, int step = 1) {
  const T* w = in + ((oy * k) * in_w + ox * k) * step;
  T best = w[0];
  for (int r = 0; r < k; ++r)
    for (int c = 0; c < k; ++c) {
      const T v = w[(r * in_w + c) * step];
      best = v > best ? v : best;
    }
  return best;
}

// Gradient of window (oy, ox) whose output was `pooled` and whose output gradient is g: g goes
// to the first input equal to `pooled` in row-major order (PyTorch's choice; it matters after a
// ReLU, where whole windows are 0), every other input of the window gets 0. Windows do not
// overlap, so each input gradient is written exactly once.
template <class T>
STRATA_HOST_DEVICE inline void max_pool_backward(const T* in, T* dx, int in_w, int oy, int ox, int k, T pooled,
                                                 T g, int step = 1) {
  const int corner = (oy * k) * in_w + ox * k;
  bool assigned = false;
  for (int r = 0; r < k; ++r) {
    for (int c = 0; c < k; ++c) {
      const int at = (corner + r * in_w + c) * step;
      const bool winner = !assigned && in[at] == pooled;
      dx[at] = winner ? g : T(0);
      assigned = assigned || winner;
    }
  }
}

// The same for four neighbouring channels of a channels-last window at once, each moved as one
// Pack4 (in, dx at the first of them and aligned to a Pack4; step = the channel count): each
// channel's gradient goes to its own first maximum.
template <class T>
STRATA_HOST_DEVICE inline void max_pool_backward(const T* in, T* dx, int in_w, int oy, int ox, int k,
                                                 Pack4<T> pooled, Pack4<T> g, int step) {
  const int corner = (oy * k) * in_w + ox * k;
  bool assigned[4] = {false, false, false, false};
  for (int r = 0; r < k; ++r) {
    for (int c = 0; c < k; ++c) {
      const int at = (corner + r * in_w + c) * step;
      const Pack4<T> v = *reinterpret_cast<const Pack4<T>*>(in + at);
      Pack4<T> gradient;
      for (int j = 0; j < 4; ++j) {
        const bool winner = !assigned[j] && v.v[j] == pooled.v[j];
        gradient.v[j] = winner ? g.v[j] : T(0);
        assigned[j] = assigned[j] || winner;
      }
      *reinterpret_cast<Pack4<T>*>(dx + at) = gradient;
    }
  }
}

// ---- explicit zero padding (for convolutions whose padding is not symmetric) ----
// A convolution (kernel k, stride s) whose windows start at oy * s - top, ox * s - left: cuDNN's
// legacy API pads the same amount on both sides, and gives exactly our output when its output
// size with symmetric padding (top, left) is ours.
constexpr bool symmetric_padding_fits(Dims in, Dims out, int k, int s, int top, int left) {
  return (in.h + 2 * top - k) / s + 1 == out.h && (in.w + 2 * left - k) / s + 1 == out.w;
}

// Otherwise the input is copied into a zero-padded plane just large enough for every window,
// and an unpadded convolution of that plane gives our output.
constexpr Dims padded_dims(Dims in, Dims out, int k, int s) {
  return {in.c, (out.h - 1) * s + k, (out.w - 1) * s + k};
}

// Pixel (py, px) of the input plane (h x w) padded by `top` rows and `left` columns.
template <class T>
STRATA_HOST_DEVICE inline T padded(const T* in, int h, int w, int top, int left, int py, int px, int step = 1) {
  const int y = py - top;
  const int x = px - left;
  return (y >= 0 && y < h && x >= 0 && x < w) ? in[(y * w + x) * step] : T(0);
}

// Gradient of input pixel (y, x) from the gradient of the padded plane (padded_h x padded_w):
// the padded plane may end before the input does (rows a strided window never reaches), and
// those input pixels get 0.
template <class T>
STRATA_HOST_DEVICE inline T unpadded_gradient(const T* dpadded, int padded_h, int padded_w, int top, int left, int y,
                                              int x, int step = 1) {
  const int py = y + top;
  const int px = x + left;
  return (py < padded_h && px < padded_w) ? dpadded[(py * padded_w + px) * step] : T(0);
}

}  // namespace strata::window
