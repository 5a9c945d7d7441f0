// Tests for strata/core/layout.hpp: the placement math the CUDA backend's channels-last kernels
// run (backend/cuda/layout.cuh, bias.cuh, blank.cuh, output_sums.cuh, dropout.cuh, loss.cuh),
// replayed on the host; the channels-last use of core/window.hpp is in window.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <strata/strata.hpp>
#include <strata/core/layout.hpp>
#include <strata/core/output_sums.hpp>

#include "support/channels_last.hpp"

using namespace strata;
using testing::to_channels_first;
using testing::to_channels_last;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
  SplitMix rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform() - 0.5f;
  return v;
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
  const auto v = random_values(batch * d.size(), 3);
  CHECK(to_channels_first(to_channels_last(v, batch, d), batch, d) == v);
  CHECK(to_channels_last(v, batch * 60, Dims{1, 1, 1}) == v);
}




TEST_CASE("image_strides describe where ImageLayout puts each value, for cuDNN's graph API") {
  for (const Dims d : {Dims{3, 4, 5}, Dims{32, 3, 3}, Dims{1, 7, 2}}) {
    for (const bool last : {false, true}) {
      INFO("dims " << d.to_string() << ", channels last: " << last);
      const ImageLayout l = ImageLayout::of(d, last);
      const auto s = image_strides(d, last);
      CHECK(s[0] == l.image_size());
      for (int c = 0; c < d.c; ++c)
        for (int y = 0; y < d.h; ++y)
          for (int x = 0; x < d.w; ++x) REQUIRE(c * s[1] + y * s[2] + x * s[3] == l.offset(c, y * d.w + x));
    }
  }
  // The weights of Conv<32, 3> on 16 channels, KRSC: filter k's channel c at (r, s).
  const auto krsc = image_strides(Dims{16, 3, 3}, true);
  CHECK(krsc == std::array<std::int64_t, 4>{144, 1, 48, 16});
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
  for (const int width : {1, 4}) {
    for (const int channels : {1, 3, 4, 5, 8, 32, 40, 64, 100, 128, 200}) {
      if (channels % width != 0) continue;  // the kernel takes four channels a thread only then
      for (const int plane : {1, 7, 64, 4096}) {
        INFO(channels << " channels, " << plane << " pixels, " << width << " channels a thread");
        const ChannelSumLanes lanes = ChannelSumLanes::of(channels, 256, width);
        CHECK(lanes.channel_lanes * lanes.pixel_lanes == 256);
        CHECK(lanes.channel_lanes <= 32);
        CHECK(lanes.channel_lanes >= std::min(channels / width, 32));
        const ImageLayout l{channels, plane, true};
        std::vector<int> reads(static_cast<std::size_t>(channels) * plane, 0);
        // Every thread of every block, as bias_channel_sums_channels_last_kernel runs them.
        for (int block = 0; block < lanes.tiles(channels) * ChannelSumLanes::kChunks; ++block) {
          const int tile = block / ChannelSumLanes::kChunks, chunk = block % ChannelSumLanes::kChunks;
          for (int t = 0; t < 256; ++t) {
            const int c = lanes.channel(tile, t);
            if (c >= channels) continue;
            CHECK(c % width == 0);  // its run starts aligned: a Pack4 where width is 4
            for (int p = lanes.first_pixel(chunk, t); p < plane; p += lanes.pixel_step())
              for (int j = 0; j < width; ++j) ++reads[l.offset(c + j, p)];
          }
        }
        CHECK(std::all_of(reads.begin(), reads.end(), [](int r) { return r == 1; }));
        // A warp (32 neighbouring threads of a block) reads one run of neighbouring values.
        const int warp_values = 32 * width;
        if (channels >= warp_values || channels == width * lanes.channel_lanes) {
          const int first = l.offset(lanes.channel(0, 0), lanes.first_pixel(0, 0));
          const int last = l.offset(lanes.channel(0, 31) + width - 1, lanes.first_pixel(0, 31));
          if (plane >= 32 / lanes.channel_lanes) CHECK(last - first + 1 == warp_values);
        }
      }
    }
  }
}

TEST_CASE("channel_runs: a Concat block's join as strided runs, in both layouts, is the CPU backend's") {
  const int batch = 3;
  const Dims first{3, 4, 5}, second{2, 4, 5}, joined{5, 4, 5};
  std::vector<float> a(static_cast<std::size_t>(batch) * first.size()), b(static_cast<std::size_t>(batch) * second.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = -1.0f - static_cast<float>(i);
  std::vector<float> expected(static_cast<std::size_t>(batch) * joined.size());
  cpu::concat_channels(BasicTensor<const float>{a.data(), batch, first}, BasicTensor<const float>{b.data(), batch, second},
                       BasicTensor<float>{expected.data(), batch, joined}, 1);
  for (int n = 0; n < batch; ++n)  // the CPU's join: an image's first channels, then the second's
    for (int c = 0; c < joined.c; ++c)
      for (int p = 0; p < 20; ++p)
        CHECK(expected[(n * 5 + c) * 20 + p] == (c < 3 ? a[(n * 3 + c) * 20 + p] : b[(n * 2 + c - 3) * 20 + p]));
  for (const bool channels_last : {false, true}) {
    INFO((channels_last ? "channels last" : "channels first"));
    // As concat.cuh copies: `rows` runs of each, the joined rows joined_run() apart.
    const ChannelRuns r = channel_runs(batch, first, second, channels_last);
    const auto la = channels_last ? to_channels_last(a, batch, first) : a;
    const auto lb = channels_last ? to_channels_last(b, batch, second) : b;
    std::vector<float> out(expected.size(), 99.0f), back_a(a.size()), back_b(b.size());
    CHECK(r.rows * r.joined_run() == out.size());
    for (std::size_t row = 0; row < r.rows; ++row) {
      std::copy_n(la.data() + row * r.first_run, r.first_run, out.data() + row * r.joined_run());
      std::copy_n(lb.data() + row * r.second_run, r.second_run, out.data() + row * r.joined_run() + r.first_run);
    }
    CHECK((channels_last ? to_channels_first(out, batch, joined) : out) == expected);
    for (std::size_t row = 0; row < r.rows; ++row) {  // and split back
      std::copy_n(out.data() + row * r.joined_run(), r.first_run, back_a.data() + row * r.first_run);
      std::copy_n(out.data() + row * r.joined_run() + r.first_run, r.second_run, back_b.data() + row * r.second_run);
    }
    CHECK(back_a == la);
    CHECK(back_b == lb);
  }
}
