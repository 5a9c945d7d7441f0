// strata/core/layout.hpp: where a value of a batch of images lives, channels first (NCHW) or
// channels last (NHWC).
//
// strata's tensors are NCHW on the host and on the CPU backend: the layout of checkpoints, of
// every host batch and of the CPU's loops. The CUDA backend may keep its activations channels
// last instead (cuda::Context::set_channels_last), the layout cuDNN's tensor-core convolutions
// read and write, so that it does not transpose around every convolution. Its kernels place
// values with ImageLayout and core/window.hpp's `step`; the CPU tests check this math against
// NCHW indexing. Images stay whole either way: image n is the n-th block of C x H x W values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "strata/core/host_device.hpp"
#include "strata/core/shape.hpp"

namespace strata {

// One image's channels and pixels (plane = H x W; offsets within an image fit in an int).
struct ImageLayout {
  int channels = 0;
  int plane = 0;
  bool channels_last = false;

  STRATA_HOST_DEVICE static ImageLayout of(Dims d, bool channels_last) {
    return ImageLayout{d.c, d.h * d.w, channels_last};
  }
  STRATA_HOST_DEVICE int image_size() const { return channels * plane; }

  // Offset within an image of channel c at pixel p (p = row * width + column).
  STRATA_HOST_DEVICE int offset(int c, int p) const { return channels_last ? p * channels + c : c * plane + p; }
  // The channel and pixel of offset r within an image.
  STRATA_HOST_DEVICE int channel_at(int r) const { return channels_last ? r % channels : r / plane; }
  STRATA_HOST_DEVICE int pixel_at(int r) const { return channels_last ? r / channels : r % plane; }
  // Distance between neighbouring pixels of one channel (core/window.hpp's step).
  STRATA_HOST_DEVICE int pixel_step() const { return channels_last ? channels : 1; }

  // The same for element i of a whole batch.
  STRATA_HOST_DEVICE int channel_of(std::size_t i) const {
    return channel_at(static_cast<int>(i % static_cast<std::size_t>(image_size())));
  }
  STRATA_HOST_DEVICE int pixel_of(std::size_t i) const {
    return pixel_at(static_cast<int>(i % static_cast<std::size_t>(image_size())));
  }
  // Where element i of a batch in this layout is in NCHW order: the index the CPU backend gives
  // the same value (dropout's draws are keyed by it).
  STRATA_HOST_DEVICE std::size_t nchw_index(std::size_t i) const {
    if (!channels_last) return i;
    const auto size = static_cast<std::size_t>(image_size());
    const std::size_t image = i / size;
    const int r = static_cast<int>(i - image * size);
    return image * size + static_cast<std::size_t>(r % channels) * static_cast<std::size_t>(plane) +
           static_cast<std::size_t>(r / channels);
  }
};

// How a batch of `first` images and one of `second` images (the same height and width) lie in
// their channel concatenation (layers/concat.hpp), in either layout: `rows` runs of
// `first_run` values of the first, then `second_run` values of the second, the joined tensor's
// rows `first_run + second_run` apart. Channels first a row is an image (runs of channels x
// pixels), channels last a pixel (runs of channels). The backends copy run by run
// (the CUDA backend as one strided copy per tensor: backend/cuda/concat.cuh).
struct ChannelRuns {
  std::size_t rows = 0;
  std::size_t first_run = 0;
  std::size_t second_run = 0;

  STRATA_HOST_DEVICE std::size_t joined_run() const { return first_run + second_run; }
};
STRATA_HOST_DEVICE inline ChannelRuns channel_runs(int batch, Dims first, Dims second, bool channels_last) {
  const auto plane = static_cast<std::size_t>(first.h) * static_cast<std::size_t>(first.w);
  const auto n = static_cast<std::size_t>(batch);
  if (channels_last)
    return {n * plane, static_cast<std::size_t>(first.c), static_cast<std::size_t>(second.c)};
  return {n, static_cast<std::size_t>(first.c) * plane, static_cast<std::size_t>(second.c) * plane};
}

// The strides, in values, of a batch of C x H x W images in either layout, listed in the order
// (image, channel, row, column) whatever the layout: how cuDNN's graph API describes a tensor
// (backend/cuda/conv_engines.hpp). A layer's weights [filters][channels][k][k] are a batch of
// `filters` images of channels x k x k (KCRS, or KRSC channels last). Agrees with
// ImageLayout::offset (tests/core/layout.cpp).
inline std::array<std::int64_t, 4> image_strides(Dims d, bool channels_last) {
  const std::int64_t c = d.c, h = d.h, w = d.w;
  if (channels_last) return {c * h * w, 1, w * c, c};
  return {c * h * w, h * w, w, 1};
}

// How the CUDA backend's channels-last bias gradient (backend/cuda/bias.cuh) shares an image
// among blocks of `threads` threads. A thread takes `width` neighbouring channels (4 where the
// kernel moves them as one Pack4: channels a multiple of 4; else 1); `channel_lanes` threads side
// by side take neighbouring runs of channels (the runs of a pixel rounded up to a power of two,
// at most 32), `pixel_lanes` of those neighbouring pixels, so that a warp reads neighbouring
// values. An image is split into tiles of channel_lanes runs and each tile into kChunks blocks;
// block (tile, chunk) sums its channels over pixels chunk * pixel_lanes + lane, then every
// kChunks * pixel_lanes further on. Every channel of every pixel is read by exactly one thread
// (tests/core/layout.cpp replays it).
struct ChannelSumLanes {
  static constexpr int kChunks = 8;  // blocks per tile of an image: enough blocks at small batches
  int channel_lanes = 1;
  int pixel_lanes = 1;
  int width = 1;

  STRATA_HOST_DEVICE static ChannelSumLanes of(int channels, int threads, int width = 1) {
    const int runs = (channels + width - 1) / width;
    int lanes = 1;
    while (lanes < runs && lanes < 32) lanes *= 2;
    return ChannelSumLanes{lanes, threads / lanes, width};
  }
  STRATA_HOST_DEVICE int tiles(int channels) const {
    return (channels + width * channel_lanes - 1) / (width * channel_lanes);
  }
  // For thread t of block (tile, chunk): its first channel, its first pixel and the step to its next.
  STRATA_HOST_DEVICE int channel(int tile, int t) const { return width * (tile * channel_lanes + t % channel_lanes); }
  STRATA_HOST_DEVICE int first_pixel(int chunk, int t) const { return chunk * pixel_lanes + t / channel_lanes; }
  STRATA_HOST_DEVICE int pixel_step() const { return kChunks * pixel_lanes; }
};

}  // namespace strata
