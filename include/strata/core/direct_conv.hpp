// strata/core/direct_conv.hpp: the math of the CUDA backend's direct convolutions
// (backend/cuda/direct_conv.cuh), for layers with few channels on one side.
//
// An autoencoder's first layer reads the 3 channels of an image and its last writes 3. cuDNN runs
// such layers as GEMMs with one tiny dimension: on an H200 (ConvNet v1, batch 256, bf16) the five
// passes of those two layers took about 1.5 ms of a 6.7 ms step, where their memory traffic
// (about 75 MB a pass) would take some 20 us. A direct convolution is bound by that traffic:
//
//   forward          y[o](p) = sum over i, r, s of w[o][i][r][s] * x[i](p + (r, s) - pad), then + bias, ReLU
//   backward-data    dx = the forward sum over dy, with the weights flipped and transposed
//                    (WeightView) and padding k - 1 - pad (stride 1)
//   backward-filter  dw[o][i][r][s] = sum over images and output pixels p of dy[o](p) * x[i](p + (r, s) - pad)
//
// A forward (or backward-data) thread sums one output pixel for a chunk of OB outputs, reading the
// chunk's weights from shared memory. A backward-filter thread owns one index on the wide side
// (`fixed`: an output channel when the input is thin, an input channel when the output is thin)
// and sums, for every channel on the thin side, the k x k products over segments of kSegment
// output columns, sliding its window of inputs along the row; blocks add their threads' sums, and
// a last pass adds the blocks' sums in double, in a fixed order (deterministic). Channels first,
// a warp's threads take neighbouring segments of a row; channels last, neighbouring wide-side
// channels of one segment (FilterGrid::fixed_lanes), so that a warp reads a pixel's channels as
// one run of memory either way.
//
// Weights are read as float in strata's [filters][channels][k][k] order in either activation
// layout: no bf16 copy, no transpose. Sums are float. Written once for both compilers, so the CPU
// tests (tests/core/direct_conv.cpp) replay the kernels' per-pixel and per-segment math and their
// division of the work against the CPU backend.
#pragma once

#include <cstddef>

#include "strata/core/host_device.hpp"
#include "strata/core/packed.hpp"
#include "strata/core/shape.hpp"

namespace strata::direct_conv {

inline constexpr int kMaxThin = 4;              // channels on the thin side
inline constexpr int kMaxKernel = 3;            // kernel sizes 1, 2 and 3
inline constexpr int kMaxChunkWeights = 8192;   // floats of shared memory a forward block takes (32 KB)
inline constexpr int kSegment = 4;              // output columns a backward-filter thread takes at a time
inline constexpr int kFilterSums = kMaxThin * kMaxKernel * kMaxKernel;  // one thread's sums (stride of a block's)
inline constexpr int kForwardThreads = 256;
inline constexpr int kFilterThreads = 128;
inline constexpr int kTargetBlocks = 4096;      // about 30 blocks per SM of an H200
inline constexpr int kTotalLanes = 32;          // a warp adds the blocks' sums of one weight

// Outputs one forward thread sums: 4 when a pass writes at most 4 channels, else 8; channels last
// up to 16, so that a thread writes whole 32-byte sectors of a pixel's channels.
constexpr int outputs_per_thread(int outputs, bool channels_last) {
  return outputs <= 4 ? 4 : (outputs <= 8 || !channels_last) ? 8 : 16;
}
constexpr int chunks_of(int outputs, bool channels_last) {
  return (outputs + outputs_per_thread(outputs, channels_last) - 1) / outputs_per_thread(outputs, channels_last);
}

// Where channel c of pixel (row, column) lies within one image, in either layout (core/layout.hpp).
struct PixelStrides {
  int channel = 0;
  int row = 0;
  int column = 0;
  STRATA_HOST_DEVICE int at(int c, int row_index, int column_index) const {
    return c * channel + row_index * row + column_index * column;
  }
};
STRATA_HOST_DEVICE inline PixelStrides pixel_strides(Dims d, bool channels_last) {
  return channels_last ? PixelStrides{1, d.w * d.c, d.c} : PixelStrides{d.h * d.w, d.w, 1};
}

// Weight (o, i, r, s) of a pass, o among the pass's outputs and i among its inputs, is
// w[at(o, i, r, s)] of strata's [filters][channels][k][k] weights.
struct WeightView {
  int base = 0;
  int output_step = 0;
  int input_step = 0;
  int row_step = 0;
  int column_step = 0;
  STRATA_HOST_DEVICE int at(int o, int i, int r, int s) const {
    return base + o * output_step + i * input_step + r * row_step + s * column_step;
  }
};
// Forward: outputs are the filters, inputs the channels.
constexpr WeightView forward_weights(int channels, int k) { return {0, channels * k * k, k * k, k, 1}; }
// Backward-data: outputs are the channels, inputs the filters, the kernel turned by 180 degrees.
constexpr WeightView backward_data_weights(int channels, int k) {
  return {(k - 1) * k + (k - 1), k * k, channels * k * k, -k, -1};
}

// Value j of a forward block's weights in shared memory: [inputs][k][k][ob] for the ob outputs
// from first_output (a tap's ob weights side by side, read as vectors), zero for outputs past the
// last (so the sums need no test).
STRATA_HOST_DEVICE inline float chunk_weight(const float* w, WeightView view, int outputs, int k, int ob,
                                             int first_output, int j) {
  const int o = first_output + j % ob;
  const int tap = j / ob;  // (i * k + r) * k + s
  if (o >= outputs) return 0.0f;
  return w[view.at(o, tap / (k * k), (tap / k) % k, tap % k)];
}

// The OB sums of output pixel (row, column) of one image for a chunk's weights (chunk_weight).
template <int K, int OB, class T>
STRATA_HOST_DEVICE inline void pixel_sums(const T* image, PixelStrides xs, int in_h, int in_w, int inputs,
                                          const float* chunk, int row, int column, int pad_top, int pad_left,
                                          float (&sums)[OB]) {
  for (int j = 0; j < OB; ++j) sums[j] = 0.0f;
  // Taps outside, channels inside: one bounds test per tap, and channels last a pixel's channels
  // read in a run.
  for (int r = 0; r < K; ++r) {
    const int y = row + r - pad_top;
    if (y < 0 || y >= in_h) continue;
    for (int s = 0; s < K; ++s) {
      const int x = column + s - pad_left;
      if (x < 0 || x >= in_w) continue;
      const T* pixel = image + xs.at(0, y, x);
      if (xs.channel == 1 && packable(pixel, static_cast<std::size_t>(inputs))) {  // channels last: 4 a load
        for (int i = 0; i < inputs; i += 4) {
          const Pack4<T> v4 = *reinterpret_cast<const Pack4<T>*>(pixel + i);
          for (int l = 0; l < 4; ++l) {
            const float v = static_cast<float>(v4.v[l]);
            const float* w = chunk + (((i + l) * K + r) * K + s) * OB;
            for (int j = 0; j < OB; ++j) sums[j] += v * w[j];
          }
        }
        continue;
      }
      for (int i = 0; i < inputs; ++i) {
        const float v = static_cast<float>(pixel[i * xs.channel]);
        const float* w = chunk + ((i * K + r) * K + s) * OB;
        for (int j = 0; j < OB; ++j) sums[j] += v * w[j];
      }
    }
  }
}

// ---- backward-filter ----

// How the backward-filter kernel divides a pass: a grid of blocks_x x tiles x groups blocks of
// kFilterThreads threads, each thread one of fixed_lanes wide-side channels (t % fixed_lanes, of
// tile f: f * fixed_lanes + t % fixed_lanes) and one of segment_lanes segment lanes
// (t / fixed_lanes). Block (bx, tile, group) takes images group, group + groups, ... and in each a
// thread the segments bx * segment_lanes + its lane, then every blocks_x * segment_lanes further on.
struct FilterGrid {
  int blocks_x = 1;
  int groups = 1;
  int tiles = 1;
  int fixed_lanes = 1;  // 1 channels first; channels last the wide side's channel count up to 32
  int segments_per_row = 1;
  int segments_per_image = 1;
  STRATA_HOST_DEVICE int segment_lanes() const { return kFilterThreads / fixed_lanes; }
  // Blocks per fixed index (each writes kFilterSums partial sums for it).
  STRATA_HOST_DEVICE int blocks() const { return blocks_x * groups; }
};
inline FilterGrid filter_grid(int fixed, int images, Dims out, bool channels_last) {
  FilterGrid g;
  if (channels_last)
    while (g.fixed_lanes < fixed && g.fixed_lanes < 32) g.fixed_lanes *= 2;
  g.tiles = (fixed + g.fixed_lanes - 1) / g.fixed_lanes;
  g.segments_per_row = (out.w + kSegment - 1) / kSegment;
  g.segments_per_image = g.segments_per_row * out.h;
  g.blocks_x = (g.segments_per_image + g.segment_lanes() - 1) / g.segment_lanes();
  if (g.blocks_x > 64) g.blocks_x = 64;
  // Channels last a block holds up to 32 channels' sums (each block adds only its few segment
  // lanes): a quarter of the blocks, so that the partial sums stay as few.
  const int target = channels_last ? kTargetBlocks / 4 : kTargetBlocks;
  const int wanted = (target + g.tiles * g.blocks_x - 1) / (g.tiles * g.blocks_x);
  g.groups = wanted < 1 ? 1 : wanted > images ? images : wanted;
  if (g.groups > 65535) g.groups = 65535;  // a grid's z extent
  return g;
}
// Floats of partial sums a pass writes (Context's workspace holds them).
inline std::size_t filter_partials(int fixed, const FilterGrid& g) {
  return static_cast<std::size_t>(fixed) * static_cast<std::size_t>(g.blocks()) * kFilterSums;
}
// Where block (bx, f, group)'s sums go, and the sum for weight (a, r, s) of the thin side within them.
STRATA_HOST_DEVICE inline std::size_t partials_offset(int blocks_x, int groups, int f, int group, int bx) {
  return ((static_cast<std::size_t>(f) * static_cast<std::size_t>(groups) + static_cast<std::size_t>(group)) *
              static_cast<std::size_t>(blocks_x) +
          static_cast<std::size_t>(bx)) *
         kFilterSums;
}
STRATA_HOST_DEVICE inline int sum_index(int a, int r, int s, int k) { return (a * k + r) * k + s; }

template <class T>
STRATA_HOST_DEVICE inline float value_or_zero(const T* image, PixelStrides xs, int c, int y, int x, int h, int w) {
  return (y < 0 || y >= h || x < 0 || x >= w) ? 0.0f : static_cast<float>(image[xs.at(c, y, x)]);
}

// Adds to sums[a][r][s] the products of one segment (row, first_column ...) of one image:
// ThinInput: a is an input channel (a < thin), `fixed` the output channel: dy[fixed] * x[a];
// otherwise a is an output channel (a < thin), `fixed` the input channel: dy[a] * x[fixed].
// window[a][r][s] holds x at (row + r - pad_top, column + s - pad_left), shifted one column left
// per output column, so that each column loads K new inputs per channel rather than K x K.
template <int K, bool ThinInput, class T>
STRATA_HOST_DEVICE inline void add_filter_segment(const T* x, PixelStrides xs, Dims in, const T* dy, PixelStrides ys,
                                                  int out_w, int fixed, int thin, int row, int first_column,
                                                  int pad_top, int pad_left, float (&sums)[kMaxThin][K][K]) {
  constexpr int kWindows = ThinInput ? kMaxThin : 1;
  const int windows = ThinInput ? thin : 1;
  float window[kWindows][K][K] = {};
  for (int a = 0; a < kWindows; ++a) {
    if (a >= windows) break;
    const int channel = ThinInput ? a : fixed;
    for (int r = 0; r < K; ++r)
      for (int s = 0; s + 1 < K; ++s)
        window[a][r][s + 1] =
            value_or_zero(x, xs, channel, row + r - pad_top, first_column + s - pad_left, in.h, in.w);
  }
  const int end = first_column + kSegment < out_w ? first_column + kSegment : out_w;
  for (int column = first_column; column < end; ++column) {
    for (int a = 0; a < kWindows; ++a) {
      if (a >= windows) break;
      const int channel = ThinInput ? a : fixed;
      for (int r = 0; r < K; ++r) {
        for (int s = 0; s + 1 < K; ++s) window[a][r][s] = window[a][r][s + 1];
        window[a][r][K - 1] =
            value_or_zero(x, xs, channel, row + r - pad_top, column + K - 1 - pad_left, in.h, in.w);
      }
    }
    if constexpr (ThinInput) {
      const float d = static_cast<float>(dy[ys.at(fixed, row, column)]);
      for (int a = 0; a < kMaxThin; ++a) {
        if (a >= thin) break;
        for (int r = 0; r < K; ++r)
          for (int s = 0; s < K; ++s) sums[a][r][s] += d * window[a][r][s];
      }
    } else {
      for (int a = 0; a < kMaxThin; ++a) {
        if (a >= thin) break;
        const float d = static_cast<float>(dy[ys.at(a, row, column)]);
        for (int r = 0; r < K; ++r)
          for (int s = 0; s < K; ++s) sums[a][r][s] += d * window[0][r][s];
      }
    }
  }
}

// The segments segment lane `lane` of block (bx, tile, group) takes, in its order:
// visit(image, row, first_column).
template <class Visit>
STRATA_HOST_DEVICE inline void for_each_segment(const FilterGrid& g, int images, int group, int bx, int lane,
                                                Visit&& visit) {
  for (int n = group; n < images; n += g.groups)
    for (int s = bx * g.segment_lanes() + lane; s < g.segments_per_image; s += g.blocks_x * g.segment_lanes())
      visit(n, s / g.segments_per_row, (s % g.segments_per_row) * kSegment);
}

// A block adds its threads' sums (sums[v][t]: sum v of thread t) in a fixed tree over the
// segment lanes of each wide-side channel: at each level half = kFilterThreads / 2, ..., down to
// fixed_lanes, thread t < half adds thread t + half's (they share a channel while half is a
// multiple of fixed_lanes); threads t < fixed_lanes then hold their channels' totals. This is
// thread t's step at one level (the kernel waits for all threads between levels).
STRATA_HOST_DEVICE inline void add_tree_level(float (*sums)[kFilterThreads], int values, int t, int half) {
  if (t < half)
    for (int v = 0; v < values; ++v) sums[v][t] += sums[v][t + half];
}

// Weight `index` ([filters][channels][k][k] order) of the gradient: its fixed index and its sum's
// place among a block's sums. thin_input: the blocks' fixed index is the filter (o), their sums
// run over channels (i); otherwise the other way round.
struct WeightSums {
  int fixed = 0;
  int sum = 0;
};
STRATA_HOST_DEVICE inline WeightSums weight_sums(int channels, int k, bool thin_input, int index) {
  const int kk = k * k;
  const int o = index / (channels * kk);
  const int i = (index / kk) % channels;
  const int r = (index % kk) / k;
  const int s = index % k;
  return {thin_input ? o : i, sum_index(thin_input ? i : o, r, s, k)};
}
// Lane `lane` of the warp that totals a weight: the blocks' sums j = lane, lane + kTotalLanes, ...
// (j = group * blocks_x + bx), in double. The warp then adds its lanes' totals as total_of_lanes.
STRATA_HOST_DEVICE inline double lane_total(const float* partials, const FilterGrid& g, WeightSums w, int lane) {
  double total = 0.0;
  for (int j = lane; j < g.blocks(); j += kTotalLanes)
    total += static_cast<double>(
        partials[partials_offset(g.blocks_x, g.groups, w.fixed, j / g.blocks_x, j % g.blocks_x) + w.sum]);
  return total;
}
// The warp's tree over its lanes' totals, as the kernel's shuffles add them (lane l takes lane
// l + offset's, offset 16, 8, 4, 2, 1): lane 0's result. `totals` holds kTotalLanes values.
inline double total_of_lanes(double* totals) {
  for (int offset = kTotalLanes / 2; offset > 0; offset /= 2)
    for (int l = 0; l < offset; ++l) totals[l] += totals[l + offset];
  return totals[0];
}

// ---- checked against cuDNN before use ----

// How far a direct pass's output is from cuDNN's for the same pass: the largest |direct - cudnn|
// and the largest |cudnn|, and whether either held a NaN or infinity. Gathered value by value
// (the check kernel's threads), then merged. A trivial type, for __shared__ arrays: start from
// Agreement{} (all zero).
struct Agreement {
  double difference;
  double scale;
  double non_finite;  // 1 when a value of either was not finite
  STRATA_HOST_DEVICE void add(float direct, float reference) {
    const double d = static_cast<double>(direct) - static_cast<double>(reference);
    const double a = d < 0 ? -d : d;
    const double r = reference < 0 ? -static_cast<double>(reference) : static_cast<double>(reference);
    if (!(a <= 1e300) || !(r <= 1e300)) non_finite = 1.0;  // NaN or infinity
    else {
      if (a > difference) difference = a;
      if (r > scale) scale = r;
    }
  }
  STRATA_HOST_DEVICE void merge(const Agreement& o) {
    if (o.difference > difference) difference = o.difference;
    if (o.scale > scale) scale = o.scale;
    if (o.non_finite > non_finite) non_finite = o.non_finite;
  }
  // Within `tolerance` of cuDNN's largest value, and all finite.
  bool within(double tolerance) const { return non_finite == 0.0 && difference <= tolerance * scale; }
};

// ---- which passes the kernels take ----

// Stride 1, a kernel of 1 to 3, at most kMaxThin channels on one side, and each channel count
// and the images within a grid's y and z extents (65535).
constexpr bool shape_fits(int channels, int filters, int kernel, int stride, int images) {
  return stride == 1 && kernel >= 1 && kernel <= kMaxKernel && (channels <= kMaxThin || filters <= kMaxThin) &&
         images >= 1 && images <= 65535 && channels <= 65535 && filters <= 65535;
}
// A forward (backward-data) block's weights fit in shared memory: OB of the pass's outputs
// (filters; channels) by its inputs (channels; filters).
constexpr bool forward_fits(int channels, int filters, int kernel, int stride, int images, bool channels_last) {
  return shape_fits(channels, filters, kernel, stride, images) &&
         outputs_per_thread(filters, channels_last) * channels * kernel * kernel <= kMaxChunkWeights;
}
constexpr bool backward_data_fits(int channels, int filters, int kernel, int stride, int images, bool channels_last) {
  return shape_fits(channels, filters, kernel, stride, images) &&
         outputs_per_thread(channels, channels_last) * filters * kernel * kernel <= kMaxChunkWeights;
}
// Floats of partial sums the backward-filter pass of a convolution from `in` to `out` writes.
inline std::size_t filter_partials(Dims in, Dims out, int images, bool channels_last) {
  const int fixed = in.c <= kMaxThin ? out.c : in.c;
  return filter_partials(fixed, filter_grid(fixed, images, out, channels_last));
}
// The backward-filter's partial sums fit in `floats` of workspace.
inline bool backward_filter_fits(Dims in, Dims out, int kernel, int stride, int images, bool channels_last,
                                 std::size_t floats) {
  return shape_fits(in.c, out.c, kernel, stride, images) && filter_partials(in, out, images, channels_last) <= floats;
}

}  // namespace strata::direct_conv
