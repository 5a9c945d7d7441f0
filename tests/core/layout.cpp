// Tests for strata/core/layout.hpp and the channels-last use of core/window.hpp: the placement
// math the CUDA backend's channels-last kernels run (backend/cuda/layout.cuh, max_pool.cuh,
// upsample.cuh, padding.cuh, blank.cuh, output_sums.cuh, dropout.cuh). Each kernel's loop is
// replayed here on the host, value by value as its threads run it, on a channels-last copy of
// the data, and the result, transposed back, must be the CPU backend's NCHW result exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <strata/strata.hpp>
#include <strata/core/layout.hpp>
#include <strata/core/output_sums.hpp>
#include <strata/core/window.hpp>

using namespace strata;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed, bool with_ties) {
  SplitMix rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = with_ties ? std::max(0.0f, std::floor(rng.uniform() * 6.0f) - 3.0f) : rng.uniform() - 0.5f;
  return v;
}

// transpose_kernel's loop: every value of `images` images of dims d, written in the target
// layout from the source layout.
std::vector<float> transposed(const std::vector<float>& from, int images, Dims d, bool to_channels_last) {
  const ImageLayout first = ImageLayout::of(d, false), last = ImageLayout::of(d, true);
  const ImageLayout& written = to_channels_last ? last : first;
  const ImageLayout& read = to_channels_last ? first : last;
  std::vector<float> to(from.size());
  for (int n = 0; n < images; ++n) {
    const std::size_t base = static_cast<std::size_t>(n) * d.size();
    for (int r = 0; r < first.image_size(); ++r)
      to[base + r] = from[base + read.offset(written.channel_at(r), written.pixel_at(r))];
  }
  return to;
}
std::vector<float> to_channels_last(const std::vector<float>& v, int images, Dims d) {
  return transposed(v, images, d, true);
}
std::vector<float> to_channels_first(const std::vector<float>& v, int images, Dims d) {
  return transposed(v, images, d, false);
}

}  // namespace

TEST_CASE("ImageLayout places every channel and pixel once, in NCHW and NHWC, and maps back to NCHW indices") {
  const Dims d{3, 4, 5};
  const int batch = 2;
  for (const bool last : {false, true}) {
    INFO("channels last: " << last);
    const ImageLayout l = ImageLayout::of(d, last);
    CHECK(l.image_size() == 60);
    CHECK(l.pixel_step() == (last ? 3 : 1));
    std::vector<int> seen(d.size(), 0);
    for (int c = 0; c < d.c; ++c) {
      for (int p = 0; p < l.plane; ++p) {
        const int r = l.offset(c, p);
        REQUIRE(r >= 0);
        REQUIRE(r < l.image_size());
        ++seen[r];
        CHECK(l.channel_at(r) == c);
        CHECK(l.pixel_at(r) == p);
        // A pixel's neighbour in the same channel is pixel_step() away.
        if (p + 1 < l.plane) CHECK(l.offset(c, p + 1) - r == l.pixel_step());
      }
    }
    for (int count : seen) CHECK(count == 1);
    for (std::size_t i = 0; i < batch * d.size(); ++i) {
      const std::size_t image = i / d.size();
      const int r = static_cast<int>(i % d.size());
      CHECK(l.channel_of(i) == l.channel_at(r));
      CHECK(l.pixel_of(i) == l.pixel_at(r));
      // The NCHW index of the same channel and pixel of the same image.
      CHECK(l.nchw_index(i) == image * d.size() + static_cast<std::size_t>(l.channel_at(r)) * l.plane + l.pixel_at(r));
    }
  }
  // NHWC by hand: image 1, channel 2, row 3, column 4 of 3 x 4 x 5.
  const ImageLayout nhwc = ImageLayout::of(d, true);
  CHECK(nhwc.offset(2, 3 * 5 + 4) == (3 * 5 + 4) * 3 + 2);
  CHECK(nhwc.nchw_index(60 + (3 * 5 + 4) * 3 + 2) == 60 + 2 * 20 + 3 * 5 + 4);
  // Transposing there and back is the identity; a 1 x 1 image is the same in both layouts.
  const auto v = random_values(batch * d.size(), 3, false);
  CHECK(to_channels_first(to_channels_last(v, batch, d), batch, d) == v);
  CHECK(to_channels_last(v, batch * 60, Dims{1, 1, 1}) == v);
}

TEST_CASE("channels-last upsampling (window:: with step = channels) gives the CPU backend's NCHW result") {
  for (int f : {1, 2, 3}) {
    const Dims in{3, 3, 5};
    const Dims out{3, 3 * f, 5 * f};
    const int batch = 2;
    const auto x = random_values(batch * in.size(), 11, false);
    const auto dy = random_values(batch * out.size(), 12, false);
    std::vector<float> y_cpu(batch * out.size()), dx_cpu(batch * in.size());
    cpu::upsample_forward(BasicTensor<const float>{x.data(), batch, in}, BasicTensor<float>{y_cpu.data(), batch, out}, f, 1);
    cpu::upsample_backward(BasicTensor<const float>{dy.data(), batch, out}, BasicTensor<float>{dx_cpu.data(), batch, in},
                           f, 1);
    const auto x_last = to_channels_last(x, batch, in);
    const auto dy_last = to_channels_last(dy, batch, out);
    std::vector<float> y(y_cpu.size()), dx(dx_cpu.size());
    const ImageLayout o = ImageLayout::of(out, true), i = ImageLayout::of(in, true);
    for (int n = 0; n < batch; ++n) {
      const float* source = x_last.data() + n * in.size();
      for (int r = 0; r < o.image_size(); ++r) {  // upsample_forward_channels_last_kernel
        const int p = o.pixel_at(r);
        y[n * out.size() + r] = window::upsample_nearest(source + o.channel_at(r), in.w, p / out.w, p % out.w, f, in.c);
      }
      const float* gradient = dy_last.data() + n * out.size();
      for (int r = 0; r < i.image_size(); ++r) {  // upsample_backward_channels_last_kernel
        const int p = i.pixel_at(r);
        dx[n * in.size() + r] =
            window::upsample_nearest_backward(gradient + i.channel_at(r), out.w, p / in.w, p % in.w, f, in.c);
      }
    }
    CHECK(to_channels_first(y, batch, out) == y_cpu);
    CHECK(to_channels_first(dx, batch, in) == dx_cpu);
  }
}

TEST_CASE("channels-last max pooling and its backward give the CPU backend's NCHW result, ties included") {
  for (int k : {1, 2, 3}) {
    const Dims in{3, 6, 12};
    const Dims out{3, 6 / k, 12 / k};
    const int batch = 2;
    const auto x = random_values(batch * in.size(), 21 + k, true);
    const auto dy = random_values(batch * out.size(), 31 + k, false);
    std::vector<float> y_cpu(batch * out.size()), dx_cpu(batch * in.size());
    cpu::max_pool_forward(BasicTensor<const float>{x.data(), batch, in}, BasicTensor<float>{y_cpu.data(), batch, out}, k,
                          1);
    cpu::max_pool_backward(BasicTensor<const float>{x.data(), batch, in}, BasicTensor<const float>{y_cpu.data(), batch, out},
                           BasicTensor<const float>{dy.data(), batch, out}, BasicTensor<float>{dx_cpu.data(), batch, in},
                           k, 1);
    const auto x_last = to_channels_last(x, batch, in);
    const auto dy_last = to_channels_last(dy, batch, out);
    std::vector<float> y(y_cpu.size()), dx(dx_cpu.size(), -99.0f);
    const ImageLayout o = ImageLayout::of(out, true);
    for (int n = 0; n < batch; ++n) {
      const std::size_t in_base = n * in.size(), out_base = n * out.size();
      for (int r = 0; r < o.image_size(); ++r) {  // the forward kernel, then the backward kernel
        const int c = o.channel_at(r);
        const int p = o.pixel_at(r);
        y[out_base + r] = window::max_pool(x_last.data() + in_base + c, in.w, p / out.w, p % out.w, k, in.c);
      }
      for (int r = 0; r < o.image_size(); ++r) {
        const int c = o.channel_at(r);
        const int p = o.pixel_at(r);
        window::max_pool_backward(x_last.data() + in_base + c, dx.data() + in_base + c, in.w, p / out.w, p % out.w, k,
                                  y[out_base + r], dy_last[out_base + r], in.c);
      }
    }
    CHECK(to_channels_first(y, batch, out) == y_cpu);
    CHECK(to_channels_first(dx, batch, in) == dx_cpu);  // every input gradient written, the same ones non-zero
  }
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

TEST_CASE("rectangle_value_offset with channels last reaches the same values as the NCHW one") {
  const Dims d{3, 10, 12};
  const BlankRectangle r{.top = 2, .left = 3, .height = 4, .width = 5, .fill = 0.5f};
  const int values = d.c * r.pixels();
  std::vector<float> nchw(d.size(), 1.0f), nhwc(d.size(), 1.0f);
  std::vector<int> hits(d.size(), 0);
  for (int i = 0; i < values; ++i) {
    nchw[rectangle_value_offset(r, d, i)] = r.fill;
    const std::size_t at = rectangle_value_offset(r, d, i, /*channels_last=*/true);
    REQUIRE(at < d.size());
    ++hits[at];
    nhwc[at] = r.fill;
  }
  for (int h : hits) CHECK(h <= 1);  // each value once
  CHECK(to_channels_first(nhwc, 1, d) == nchw);
  // And the NCHW image is what the CPU backend's blank_rectangle makes.
  std::vector<float> blanked(d.size(), 1.0f);
  cpu::blank_rectangle(blanked.data(), 1, d, r);
  CHECK(blanked == nchw);
}

TEST_CASE("ChannelSumLanes: the blocks of the channels-last bias gradient read every value of an image once") {
  for (const int channels : {1, 3, 5, 8, 32, 40, 64, 100}) {
    for (const int plane : {1, 7, 64, 4096}) {
      INFO(channels << " channels, " << plane << " pixels");
      const ChannelSumLanes lanes = ChannelSumLanes::of(channels, 256);
      CHECK(lanes.channel_lanes * lanes.pixel_lanes == 256);
      CHECK(lanes.channel_lanes <= 32);
      CHECK(lanes.channel_lanes >= std::min(channels, 32));
      const ImageLayout l{channels, plane, true};
      std::vector<int> reads(static_cast<std::size_t>(channels) * plane, 0);
      // Every thread of every block, as bias_channel_sums_channels_last_kernel runs them.
      for (int block = 0; block < lanes.tiles(channels) * ChannelSumLanes::kChunks; ++block) {
        const int tile = block / ChannelSumLanes::kChunks, chunk = block % ChannelSumLanes::kChunks;
        for (int t = 0; t < 256; ++t) {
          const int c = lanes.channel(tile, t);
          if (c >= channels) continue;
          for (int p = lanes.first_pixel(chunk, t); p < plane; p += lanes.pixel_step()) ++reads[l.offset(c, p)];
        }
      }
      CHECK(std::all_of(reads.begin(), reads.end(), [](int r) { return r == 1; }));
    }
  }
}
