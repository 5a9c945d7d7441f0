// Tests for strata/core/direct_conv.hpp: the CUDA backend's direct convolution kernels
// (backend/cuda/direct_conv.cuh) replayed on the CPU the way they divide the work (a forward
// thread per output pixel and chunk of outputs, with its block's weights gathered as the kernel
// gathers them; backward-filter threads over their segments, blocks' sums, the final double sums),
// in NCHW and channels last, in float and bfloat16, against the CPU backend's convolution.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <vector>

#include <strata/strata.hpp>
#include <strata/core/direct_conv.hpp>

#include "support/channels_last.hpp"

using namespace strata;
namespace dc = strata::direct_conv;

namespace {

struct Case {
  Dims in;
  int filters;
  int kernel;
  int pad_top;
  int pad_left;
  int batch;
  bool valid = false;  // Keras' Valid: no padding, the output k - 1 smaller; else Same at stride 1
  Dims out() const { return valid ? Dims{filters, in.h - kernel + 1, in.w - kernel + 1} : Dims{filters, in.h, in.w}; }
};

std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
  SplitMix rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform() - 0.5f;
  return v;
}

// Largest difference over largest reference value.
float relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  float diff = 0.0f, scale = 1e-30f;
  for (std::size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return diff / scale;
}

// The forward (or backward-data) kernel on the CPU: block (pixel block, chunk, image) gathers its
// chunk's weights (chunk_weight), each thread one pixel (pixel_sums), then bias and ReLU.
template <int K, int OB, class T>
std::vector<float> replay_conv(const std::vector<T>& x, Dims in, Dims out, int images, bool last,
                               const std::vector<float>& w, dc::WeightView view, const float* bias, bool relu,
                               int pad_top, int pad_left) {
  std::vector<float> y(static_cast<std::size_t>(images) * out.size(), -99.0f);
  const dc::PixelStrides xs = dc::pixel_strides(in, last), ys = dc::pixel_strides(out, last);
  std::vector<float> chunk(static_cast<std::size_t>(OB) * in.c * K * K);
  for (int c = 0; c < dc::chunks_of(out.c, last); ++c) {
    const int first_output = c * OB;
    for (int j = 0; j < static_cast<int>(chunk.size()); ++j)
      chunk[j] = dc::chunk_weight(w.data(), view, out.c, K, OB, first_output, j);
    for (int n = 0; n < images; ++n)
      for (int p = 0; p < out.h * out.w; ++p) {
        const int row = p / out.w, column = p % out.w;
        float sums[OB];
        dc::pixel_sums<K, OB>(x.data() + n * in.size(), xs, in.h, in.w, in.c, chunk.data(), row, column, pad_top,
                              pad_left, sums);
        for (int j = 0; j < OB && first_output + j < out.c; ++j) {
          float v = sums[j] + (bias ? bias[first_output + j] : 0.0f);
          if (relu) v = elementwise::relu(v);
          y[n * out.size() + ys.at(first_output + j, row, column)] = v;
        }
      }
  }
  return y;
}

template <int K, class T>
std::vector<float> replay_conv_k(const std::vector<T>& x, Dims in, Dims out, int images, bool last,
                                 const std::vector<float>& w, dc::WeightView view, const float* bias, bool relu,
                                 int pad_top, int pad_left) {
  switch (dc::outputs_per_thread(out.c, last)) {
    case 4: return replay_conv<K, 4>(x, in, out, images, last, w, view, bias, relu, pad_top, pad_left);
    case 8: return replay_conv<K, 8>(x, in, out, images, last, w, view, bias, relu, pad_top, pad_left);
    default: return replay_conv<K, 16>(x, in, out, images, last, w, view, bias, relu, pad_top, pad_left);
  }
}

// The backward-filter kernels on the CPU: every thread of every block over its segments (its
// wide-side channel and segment lane as FilterGrid says), the block's tree (add_tree_level) into
// the partials, then per weight the total kernel's 32 lanes and their tree.
template <int K, bool ThinInput, class T>
std::vector<float> replay_filter(const std::vector<T>& x, Dims in, const std::vector<T>& dy, Dims out, int images,
                                 bool last, int pad_top, int pad_left) {
  const int fixed_count = ThinInput ? out.c : in.c;
  const int thin = ThinInput ? in.c : out.c;
  const dc::FilterGrid grid = dc::filter_grid(fixed_count, images, out, last);
  std::vector<float> partials(dc::filter_partials(fixed_count, grid), -99.0f);
  const dc::PixelStrides xs = dc::pixel_strides(in, last), ys = dc::pixel_strides(out, last);
  for (int tile = 0; tile < grid.tiles; ++tile)
    for (int group = 0; group < grid.groups; ++group)
      for (int bx = 0; bx < grid.blocks_x; ++bx) {
        static float block[dc::kFilterSums][dc::kFilterThreads];  // the kernel's shared memory
        for (int t = 0; t < dc::kFilterThreads; ++t) {
          const int f = tile * grid.fixed_lanes + t % grid.fixed_lanes;
          float sums[dc::kMaxThin][K][K] = {};
          if (f < fixed_count)
            dc::for_each_segment(grid, images, group, bx, t / grid.fixed_lanes, [&](int n, int row, int column) {
              dc::add_filter_segment<K, ThinInput>(x.data() + n * in.size(), xs, in, dy.data() + n * out.size(), ys,
                                                   out.w, f, thin, row, column, pad_top, pad_left, sums);
            });
          for (int a = 0; a < dc::kMaxThin; ++a)
            for (int r = 0; r < K; ++r)
              for (int s = 0; s < K; ++s) block[dc::sum_index(a, r, s, K)][t] = sums[a][r][s];
        }
        for (int half = dc::kFilterThreads / 2; half >= grid.fixed_lanes; half /= 2)
          for (int t = 0; t < dc::kFilterThreads; ++t) dc::add_tree_level(block, dc::kMaxThin * K * K, t, half);
        for (int lane = 0; lane < grid.fixed_lanes; ++lane) {
          const int f = tile * grid.fixed_lanes + lane;
          if (f >= fixed_count) continue;
          for (int v = 0; v < dc::kMaxThin * K * K; ++v)
            partials[dc::partials_offset(grid.blocks_x, grid.groups, f, group, bx) + v] = block[v][lane];
        }
      }
  std::vector<float> dweight(static_cast<std::size_t>(out.c) * in.c * K * K);
  for (int i = 0; i < static_cast<int>(dweight.size()); ++i) {
    double lanes[dc::kTotalLanes];
    for (int lane = 0; lane < dc::kTotalLanes; ++lane)
      lanes[lane] = dc::lane_total(partials.data(), grid, dc::weight_sums(in.c, K, ThinInput, i), lane);
    dweight[i] = static_cast<float>(dc::total_of_lanes(lanes));
  }
  return dweight;
}

template <int K, class T>
std::vector<float> replay_filter_k(const std::vector<T>& x, Dims in, const std::vector<T>& dy, Dims out, int images,
                                   bool last, int pad_top, int pad_left) {
  if (in.c <= dc::kMaxThin) return replay_filter<K, true>(x, in, dy, out, images, last, pad_top, pad_left);
  return replay_filter<K, false>(x, in, dy, out, images, last, pad_top, pad_left);
}

template <class T>
std::vector<T> as(const std::vector<float>& v) {
  std::vector<T> t(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) t[i] = to_scalar<T>(v[i]);
  return t;
}

// Every pass of case c, replayed in layout `last` and scalar T, against the CPU backend (given
// inputs rounded to T, so that both see the same values).
template <int K, class T>
void check_case(const Case& c, bool last) {
  const Dims in = c.in;
  const Dims out = c.out();
  const ConvGeometry g{c.kernel, 1, c.pad_top, c.pad_left};
  REQUIRE(dc::forward_fits(in.c, out.c, K, 1, c.batch, last));
  REQUIRE(dc::backward_data_fits(in.c, out.c, K, 1, c.batch, last));
  auto x = random_values(c.batch * in.size(), 1);
  auto dy = random_values(c.batch * out.size(), 2);
  for (float& v : x) v = static_cast<float>(to_scalar<T>(v));
  for (float& v : dy) v = static_cast<float>(to_scalar<T>(v));
  const auto w = random_values(static_cast<std::size_t>(out.c) * in.c * K * K, 3);
  const auto bias = random_values(out.c, 4);

  std::vector<float> scratch(cpu::conv2d_scratch_floats(in, out, g, c.batch, 1));
  std::vector<float> y(c.batch * out.size()), y_relu(y.size()), dx(c.batch * in.size()), dw(w.size()), db(out.c);
  cpu::conv2d_forward<float>({x.data(), c.batch, in}, {y.data(), c.batch, out}, w.data(), bias.data(), g,
                             scratch.data(), 1);
  cpu::conv2d_forward<float>({x.data(), c.batch, in}, {y_relu.data(), c.batch, out}, w.data(), bias.data(), g,
                             scratch.data(), 1, true);
  cpu::conv2d_backward<float>({x.data(), c.batch, in}, {dy.data(), c.batch, out}, {dx.data(), c.batch, in}, w.data(),
                              dw.data(), db.data(), g, scratch.data(), 1);

  const auto layout = [&](const std::vector<float>& v, Dims d) {
    return last ? testing::to_channels_last(v, c.batch, d) : v;
  };
  const auto back = [&](const std::vector<float>& v, Dims d) {
    return last ? testing::to_channels_first(v, c.batch, d) : v;
  };
  const std::vector<T> xt = as<T>(layout(x, in)), dyt = as<T>(layout(dy, out));

  const auto forward = dc::forward_weights(in.c, K);
  CHECK(relative_error(back(replay_conv_k<K>(xt, in, out, c.batch, last, w, forward, bias.data(), false, c.pad_top,
                                             c.pad_left),
                            out),
                       y) < 1e-5f);
  CHECK(relative_error(back(replay_conv_k<K>(xt, in, out, c.batch, last, w, forward, bias.data(), true, c.pad_top,
                                             c.pad_left),
                            out),
                       y_relu) < 1e-5f);
  // Backward-data: the forward kernel over dy, weights turned and transposed, padding k - 1 - pad.
  CHECK(relative_error(back(replay_conv_k<K>(dyt, out, in, c.batch, last, w, dc::backward_data_weights(in.c, K),
                                             nullptr, false, K - 1 - c.pad_top, K - 1 - c.pad_left),
                            in),
                       dx) < 1e-5f);
  CHECK(relative_error(replay_filter_k<K>(xt, in, dyt, out, c.batch, last, c.pad_top, c.pad_left), dw) < 1e-5f);
}

template <class T>
void check_case_any_kernel(const Case& c, bool last) {
  switch (c.kernel) {
    case 1: return check_case<1, T>(c, last);
    case 2: return check_case<2, T>(c, last);
    case 3: return check_case<3, T>(c, last);
    default: FAIL("kernel " << c.kernel);
  }
}

}  // namespace

TEST_CASE("direct convolutions: forward, ReLU, backward-data and backward-filter match the CPU backend") {
  const Case cases[] = {
      {{3, 7, 6}, 5, 3, 1, 1, 3},     // RGB in, a partial segment at the end of each row
      {{6, 5, 9}, 3, 3, 1, 1, 2},     // RGB out
      {{2, 5, 5}, 6, 2, 0, 0, 2},     // even kernel: Keras' same padding puts the extra row below
      {{4, 3, 5}, 9, 1, 0, 0, 2},     // 1 x 1, two chunks of 8 outputs, the second with one
      {{3, 4, 4}, 3, 3, 1, 1, 1},     // thin on both sides
      {{3, 8, 70}, 4, 3, 1, 1, 2},    // more than one block of segments per image
      {{40, 4, 6}, 2, 3, 1, 1, 2},    // many inputs to a thin output
      {{3, 7, 9}, 5, 3, 0, 0, 2, true},   // Valid: 5 x 7 out of 7 x 9, backward-data padded by 2
      {{6, 6, 5}, 3, 2, 0, 0, 2, true},   // Valid, even kernel, thin output
      {{3, 4, 4}, 32, 3, 1, 1, 200},  // channels first: 128 image groups for 200 images
      {{3, 64, 520}, 4, 3, 1, 1, 1},  // 8,320 segments an image: 64 blocks of segments (the cap)
      {{3, 5, 6}, 20, 3, 1, 1, 2},    // channels last: 20 wide-side channels in 32 lanes; 16 outputs a thread
  };
  for (const Case& c : cases)
    for (bool last : {false, true}) {
      CAPTURE(c.in.to_string());
      CAPTURE(c.filters);
      CAPTURE(c.kernel);
      CAPTURE(last);
      check_case_any_kernel<float>(c, last);
      check_case_any_kernel<bfloat16>(c, last);
    }
}

TEST_CASE("direct convolutions: the backward-filter grid visits every segment of every image once") {
  struct Shape {
    int fixed, images;
    Dims out;
    bool last;
  };
  for (const Shape& s : {Shape{32, 256, {32, 64, 64}, false}, Shape{32, 256, {32, 64, 64}, true},
                         Shape{32, 64, {3, 64, 64}, false}, Shape{5, 3, {4, 8, 70}, true},
                         Shape{1, 1, {1, 1, 1}, false}, Shape{64, 7, {2, 9, 5}, true},
                         Shape{3, 2, {3, 64, 600}, false}}) {
    const dc::FilterGrid g = dc::filter_grid(s.fixed, s.images, s.out, s.last);
    CAPTURE(s.last);
    CHECK(g.segments_per_row == (s.out.w + dc::kSegment - 1) / dc::kSegment);
    CHECK(g.segments_per_image == g.segments_per_row * s.out.h);
    CHECK(g.fixed_lanes * g.segment_lanes() == dc::kFilterThreads);
    CHECK(g.tiles * g.fixed_lanes >= s.fixed);
    CHECK((g.tiles - 1) * g.fixed_lanes < s.fixed);
    const auto lanes_last = static_cast<int>(std::min(32u, std::bit_ceil(static_cast<unsigned>(s.fixed))));
    CHECK(g.fixed_lanes == (s.last ? lanes_last : 1));
    CHECK(g.blocks_x >= 1);
    CHECK(g.blocks_x <= 64);
    CHECK(g.groups >= 1);
    CHECK(g.groups <= s.images);
    std::vector<int> visits(static_cast<std::size_t>(s.images) * g.segments_per_image, 0);
    for (int group = 0; group < g.groups; ++group)
      for (int bx = 0; bx < g.blocks_x; ++bx)
        for (int lane = 0; lane < g.segment_lanes(); ++lane)
          dc::for_each_segment(g, s.images, group, bx, lane, [&](int n, int row, int first_column) {
            REQUIRE(first_column % dc::kSegment == 0);
            REQUIRE(first_column < s.out.w);
            REQUIRE(row < s.out.h);
            ++visits[static_cast<std::size_t>(n) * g.segments_per_image + row * g.segments_per_row +
                     first_column / dc::kSegment];
          });
    CHECK(std::all_of(visits.begin(), visits.end(), [](int v) { return v == 1; }));
  }
  // ConvNet v1's first layer at batch 256: channels first, 8 blocks of segments by 16 image
  // groups per filter, 4096 blocks in all, whose sums fit the 16 MiB the smallest convolution
  // workspace has; channels last, the 32 filters side by side in each block of 4 segment lanes,
  // 64 blocks of segments by 16 image groups.
  const dc::FilterGrid v1 = dc::filter_grid(32, 256, {32, 64, 64}, false);
  CHECK(v1.blocks_x == 8);
  CHECK(v1.groups == 16);
  CHECK(dc::filter_partials(32, v1) * sizeof(float) <= (std::size_t{16} << 20));
  const dc::FilterGrid v1_last = dc::filter_grid(32, 256, {32, 64, 64}, true);
  CHECK(v1_last.tiles == 1);
  CHECK(v1_last.blocks_x == 64);
  CHECK(v1_last.groups == 16);
  CHECK(dc::filter_partials(32, v1_last) * sizeof(float) <= (std::size_t{16} << 20));
}

TEST_CASE("direct convolutions take stride 1, kernels up to 3 and at most 4 channels on one side") {
  for (bool last : {false, true}) {
    CHECK(dc::forward_fits(3, 32, 3, 1, 256, last));
    CHECK(dc::forward_fits(32, 3, 3, 1, 256, last));
    CHECK(dc::backward_data_fits(32, 3, 3, 1, 256, last));
    CHECK_FALSE(dc::forward_fits(3, 32, 3, 2, 256, last));    // stride 2
    CHECK_FALSE(dc::forward_fits(3, 32, 5, 1, 256, last));    // 5 x 5
    CHECK_FALSE(dc::forward_fits(8, 8, 3, 1, 256, last));     // no thin side
    CHECK_FALSE(dc::forward_fits(3, 32, 3, 1, 70000, last));  // more images than a grid's z extent
    CHECK_FALSE(dc::forward_fits(3, 70000, 1, 1, 1, last));   // more filters than a grid's y extent
    CHECK_FALSE(dc::forward_fits(1024, 3, 3, 1, 16, last));   // 4 x 1024 x 9 weights: more than 32 KB of shared memory
    CHECK(dc::backward_data_fits(3, 1024, 1, 1, 16, last));   // 4 outputs x 1024 inputs x 1
    CHECK(dc::backward_filter_fits({3, 64, 64}, {32, 64, 64}, 3, 1, 256, last, std::size_t{4} << 20));
    CHECK_FALSE(dc::backward_filter_fits({3, 64, 64}, {32, 64, 64}, 3, 1, 256, last, 1000));
  }
}
