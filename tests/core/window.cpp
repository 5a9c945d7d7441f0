// Tests for strata/core/window.hpp: the per-pixel math the CUDA kernels run for max pooling,
// nearest upsampling and explicit padding, checked here against the CPU backend; with channels
// last (step = channels) each channels-last kernel's loop (backend/cuda/max_pool.cuh,
// upsample.cuh, padding.cuh) is replayed value by value on a channels-last copy of the data, and
// its result, transposed back, must be the NCHW one exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <strata/strata.hpp>
#include <strata/core/layout.hpp>
#include <strata/core/window.hpp>

#include "support/channels_last.hpp"

using namespace strata;
using testing::to_channels_first;
using testing::to_channels_last;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed, bool with_ties) {
  SplitMix rng(seed);
  std::vector<float> v(n);
  // With ties: a few distinct values, half of them 0 (as after a ReLU).
  for (float& x : v) x = with_ties ? std::max(0.0f, std::floor(rng.uniform() * 6.0f) - 3.0f) : rng.uniform() - 0.5f;
  return v;
}

}  // namespace

TEST_CASE("window::upsample_nearest and its backward match the CPU backend exactly, in NCHW and channels last") {
  for (int f : {1, 2, 3}) {
    const Dims in{2, 3, 5};
    const Dims out{2, 3 * f, 5 * f};
    const int batch = 2;
    const auto x = random_values(batch * in.size(), 11, false);
    const auto dy = random_values(batch * out.size(), 12, false);
    std::vector<float> y_cpu(batch * out.size()), dx_cpu(batch * in.size());
    cpu::upsample_forward(BasicTensor<const float>{x.data(), batch, in}, BasicTensor<float>{y_cpu.data(), batch, out}, f, 1);
    cpu::upsample_backward(BasicTensor<const float>{dy.data(), batch, out}, BasicTensor<float>{dx_cpu.data(), batch, in},
                           f, 1);
    for (int p = 0; p < batch * in.c; ++p) {
      for (int oy = 0; oy < out.h; ++oy)
        for (int ox = 0; ox < out.w; ++ox)
          CHECK(window::upsample_nearest(x.data() + p * in.plane(), in.w, oy, ox, f) ==
                y_cpu[p * out.plane() + oy * out.w + ox]);
      for (int iy = 0; iy < in.h; ++iy)
        for (int ix = 0; ix < in.w; ++ix)
          CHECK(window::upsample_nearest_backward(dy.data() + p * out.plane(), out.w, iy, ix, f) ==
                dx_cpu[p * in.plane() + iy * in.w + ix]);
    }
    // Channels last: upsample_forward_channels_last_kernel, upsample_backward_channels_last_kernel.
    const auto x_last = to_channels_last(x, batch, in);
    const auto dy_last = to_channels_last(dy, batch, out);
    std::vector<float> y(y_cpu.size()), dx(dx_cpu.size());
    const ImageLayout o = ImageLayout::of(out, true), i = ImageLayout::of(in, true);
    for (int n = 0; n < batch; ++n) {
      for (int r = 0; r < o.image_size(); ++r) {
        const int p = o.pixel_at(r);
        y[n * out.size() + r] = window::upsample_nearest(x_last.data() + n * in.size() + o.channel_at(r), in.w,
                                                         p / out.w, p % out.w, f, in.c);
      }
      for (int r = 0; r < i.image_size(); ++r) {
        const int p = i.pixel_at(r);
        dx[n * in.size() + r] = window::upsample_nearest_backward(dy_last.data() + n * out.size() + i.channel_at(r),
                                                                  out.w, p / in.w, p % in.w, f, in.c);
      }
    }
    CHECK(to_channels_first(y, batch, out) == y_cpu);
    CHECK(to_channels_first(dx, batch, in) == dx_cpu);
  }
}

TEST_CASE("window::max_pool and its backward match the CPU backend exactly, ties included, in NCHW and channels last") {
  for (int k : {1, 2, 3}) {
    for (int channels : {3, 8}) {
      INFO("k " << k << ", " << channels << " channels");
      const Dims in{channels, 6, 12};
      const Dims out{channels, 6 / k, 12 / k};
      const int batch = 2;
      const auto x = random_values(batch * in.size(), 21 + k, true);
      const auto dy = random_values(batch * out.size(), 31 + k, false);
      std::vector<float> y_cpu(batch * out.size()), dx_cpu(batch * in.size());
      std::vector<float> y(y_cpu.size()), dx(dx_cpu.size(), -99.0f);
      cpu::max_pool_forward(BasicTensor<const float>{x.data(), batch, in}, BasicTensor<float>{y_cpu.data(), batch, out}, k,
                            1);
      cpu::max_pool_backward(BasicTensor<const float>{x.data(), batch, in}, BasicTensor<const float>{y_cpu.data(), batch, out},
                             BasicTensor<const float>{dy.data(), batch, out}, BasicTensor<float>{dx_cpu.data(), batch, in},
                             k, 1);
      for (int p = 0; p < batch * in.c; ++p) {
        for (int oy = 0; oy < out.h; ++oy) {
          for (int ox = 0; ox < out.w; ++ox) {
            const std::size_t o = p * out.plane() + oy * out.w + ox;
            y[o] = window::max_pool(x.data() + p * in.plane(), in.w, oy, ox, k);
            window::max_pool_backward(x.data() + p * in.plane(), dx.data() + p * in.plane(), in.w, oy, ox, k, y[o], dy[o]);
          }
        }
      }
      CHECK(y == y_cpu);
      CHECK(dx == dx_cpu);  // every input gradient written, the same ones non-zero
      // Channels last: max_pool_forward_channels_last_kernel, then its backward kernel.
      const auto x_last = to_channels_last(x, batch, in);
      const auto dy_last = to_channels_last(dy, batch, out);
      std::fill(y.begin(), y.end(), 0.0f);
      std::fill(dx.begin(), dx.end(), -99.0f);
      const ImageLayout o = ImageLayout::of(out, true);
      for (int n = 0; n < batch; ++n) {
        const std::size_t in_base = n * in.size(), out_base = n * out.size();
        for (int r = 0; r < o.image_size(); ++r) {
          const int p = o.pixel_at(r);
          y[out_base + r] = window::max_pool(x_last.data() + in_base + o.channel_at(r), in.w, p / out.w, p % out.w, k, in.c);
        }
        for (int r = 0; r < o.image_size(); ++r) {
          const int c = o.channel_at(r);
          const int p = o.pixel_at(r);
          window::max_pool_backward(x_last.data() + in_base + c, dx.data() + in_base + c, in.w, p / out.w, p % out.w, k,
                                    y[out_base + r], dy_last[out_base + r], in.c);
        }
      }
      CHECK(to_channels_first(y, batch, out) == y_cpu);
      CHECK(to_channels_first(dx, batch, in) == dx_cpu);
      if (channels % 4 != 0) continue;
      // Four neighbouring channels a thread, as max_pool_backward_channels_last_kernel takes them
      // where the channels allow (and the tensors are aligned to a Pack4, as the kernel checks).
      REQUIRE((packable(x_last.data(), x_last.size()) && packable(y.data(), y.size()) &&
               packable(dy_last.data(), dy_last.size()) && packable(dx.data(), dx.size())));
      std::fill(dx.begin(), dx.end(), -99.0f);
      for (int n = 0; n < batch; ++n) {
        const std::size_t in_base = n * in.size(), out_base = n * out.size();
        for (int q = 0; q < o.image_size() / 4; ++q) {
          const int c = o.channel_at(4 * q);
          const int p = o.pixel_at(4 * q);
          const auto pooled = *reinterpret_cast<const Pack4<float>*>(y.data() + out_base + 4 * q);
          const auto g = *reinterpret_cast<const Pack4<float>*>(dy_last.data() + out_base + 4 * q);
          window::max_pool_backward(x_last.data() + in_base + c, dx.data() + in_base + c, in.w, p / out.w, p % out.w, k,
                                    pooled, g, in.c);
        }
      }
      CHECK(to_channels_first(dx, batch, in) == dx_cpu);
    }
  }
}

// An asymmetric Same convolution equals an unpadded one on the explicitly padded input: the
// im2col columns agree, so forward, and by adjointness both gradients, do too.
TEST_CASE("window::padded turns an asymmetric convolution into an unpadded one; unpadded_gradient is its adjoint") {
  SplitMix rng(5);
  int asymmetric = 0;
  for (int k = 1; k <= 4; ++k) {
    for (int s = 1; s <= 3; ++s) {
      for (const Dims in : {Dims{2, 6, 5}, Dims{1, 7, 8}, Dims{2, 9, 9}}) {
        const int out_h = (in.h + s - 1) / s;
        const int out_w = (in.w + s - 1) / s;
        const Dims out{1, out_h, out_w};
        const ConvGeometry g{k, s, detail::same_padding_before(in.h, k, s), detail::same_padding_before(in.w, k, s)};
        std::vector<double> x(in.size());
        for (double& v : x) v = rng.uniform() - 0.5;
        const std::size_t rows = static_cast<std::size_t>(in.c) * k * k;
        std::vector<double> expected(rows * out.plane());
        cpu::im2col(x.data(), in, out, g, expected.data());
        if (window::symmetric_padding_fits(in, out, k, s, g.pad_top, g.pad_left)) {
          // cuDNN pads pad_top on both sides: its output size is ours, and its windows start where ours do.
          CHECK((in.h + 2 * g.pad_top - k) / s + 1 == out.h);
          continue;
        }
        ++asymmetric;
        const Dims padded = window::padded_dims(in, out, k, s);
        std::vector<double> xp(padded.size());
        for (int c = 0; c < in.c; ++c)
          for (int py = 0; py < padded.h; ++py)
            for (int px = 0; px < padded.w; ++px)
              xp[c * padded.plane() + py * padded.w + px] =
                  window::padded(x.data() + c * in.plane(), in.h, in.w, g.pad_top, g.pad_left, py, px);
        std::vector<double> columns(expected.size());
        cpu::im2col(xp.data(), padded, out, ConvGeometry{k, s, 0, 0}, columns.data());
        INFO("k " << k << " s " << s << " in " << in.to_string());
        CHECK(columns == expected);
        // <pad(x), c> == <x, unpad(c)>
        std::vector<double> c(padded.size()), back(in.size());
        for (double& v : c) v = rng.uniform() - 0.5;
        double lhs = 0.0, rhs = 0.0;
        for (std::size_t i = 0; i < c.size(); ++i) lhs += xp[i] * c[i];
        for (int ch = 0; ch < in.c; ++ch)
          for (int y = 0; y < in.h; ++y)
            for (int xx = 0; xx < in.w; ++xx)
              back[ch * in.plane() + y * in.w + xx] = window::unpadded_gradient(
                  c.data() + ch * padded.plane(), padded.h, padded.w, g.pad_top, g.pad_left, y, xx);
        for (std::size_t i = 0; i < x.size(); ++i) rhs += x[i] * back[i];
        CHECK(lhs == doctest::Approx(rhs).epsilon(1e-12));
      }
    }
  }
  CHECK(asymmetric > 5);  // the padded path was exercised
}

TEST_CASE("channels-last explicit padding and its gradient are the NCHW ones, transposed") {
  const Dims in{3, 5, 6};
  const Dims padded{3, 8, 7};  // one row above, two below; one column left, none right
  const int top = 1, left = 1, batch = 2;
  const auto x = random_values(batch * in.size(), 41, false);
  const auto g = random_values(batch * padded.size(), 42, false);
  std::vector<float> xp_first(batch * padded.size()), back_first(batch * in.size());
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < in.c; ++c) {
      for (int r = 0; r < static_cast<int>(padded.plane()); ++r)
        xp_first[n * padded.size() + c * padded.plane() + r] = window::padded(
            x.data() + n * in.size() + c * in.plane(), in.h, in.w, top, left, r / padded.w, r % padded.w);
      for (int r = 0; r < static_cast<int>(in.plane()); ++r)
        back_first[n * in.size() + c * in.plane() + r] = window::unpadded_gradient(
            g.data() + n * padded.size() + c * padded.plane(), padded.h, padded.w, top, left, r / in.w, r % in.w);
    }
  const auto x_last = to_channels_last(x, batch, in);
  const auto g_last = to_channels_last(g, batch, padded);
  std::vector<float> xp(xp_first.size()), back(back_first.size());
  const ImageLayout o = ImageLayout::of(padded, true), i = ImageLayout::of(in, true);
  for (int n = 0; n < batch; ++n) {
    for (int r = 0; r < o.image_size(); ++r) {  // pad_channels_last_kernel
      const int p = o.pixel_at(r);
      xp[n * padded.size() + r] = window::padded(x_last.data() + n * in.size() + o.channel_at(r), in.h, in.w, top,
                                                 left, p / padded.w, p % padded.w, in.c);
    }
    for (int r = 0; r < i.image_size(); ++r) {  // unpad_channels_last_kernel
      const int p = i.pixel_at(r);
      back[n * in.size() + r] = window::unpadded_gradient(g_last.data() + n * padded.size() + i.channel_at(r), padded.h,
                                                          padded.w, top, left, p / in.w, p % in.w, in.c);
    }
  }
  CHECK(to_channels_first(xp, batch, padded) == xp_first);
  CHECK(to_channels_first(back, batch, in) == back_first);
}
