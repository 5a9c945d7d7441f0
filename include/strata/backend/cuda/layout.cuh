// strata/backend/cuda/layout.cuh: batches of images between channels first (NCHW) and channels
// last (NHWC) on the GPU, converted between float and bfloat16 on the way.
//
// With channels-last activations (Context::set_channels_last) host batches stay NCHW: they cross
// as floats into the context's device staging and are transposed here into the model's buffers
// (and back for downloads); a convolution's NCHW-ordered weights [filters][channels][k][k] are
// the "batch" of `filters` images of channels x k x k, so the same kernels make cuDNN's KRSC copy
// of them and turn its KRSC weight gradient back (conv.hpp). One thread per value written (the
// writes are coalesced, the reads gather); placement by core/layout.hpp's ImageLayout, the math
// the CPU tests check; the conversion is convert.cuh's.
#pragma once

#include <cstddef>

#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/shape.hpp"

namespace strata::cuda {

template <bool ToChannelsLast, class To, class From>
__global__ void transpose_kernel(const From* from, To* to, ImageLayout first, ImageLayout last) {
  const int size = first.image_size();
  const std::size_t base = image_base(size);
  const ImageLayout& written = ToChannelsLast ? last : first;
  const ImageLayout& read = ToChannelsLast ? first : last;
  for (int r = first_in_image(); r < size; r += image_stride()) {
    const int source = read.offset(written.channel_at(r), written.pixel_at(r));
    to[base + r] = to_scalar<To>(static_cast<float>(from[base + source]));
  }
}

// `images` images of dims d from NCHW `from` into NHWC `to` (rounded when To is bfloat16).
template <class To, class From>
void to_channels_last(const From* from, To* to, int images, Dims d, cudaStream_t stream) {
  launch_per_image("transpose_kernel (NCHW to NHWC: a batch or a convolution's weights)", images, d.size(), stream,
                   &transpose_kernel<true, To, From>, from, to, ImageLayout::of(d, false), ImageLayout::of(d, true));
}

// `images` images of dims d from NHWC `from` into NCHW `to` (widened when From is bfloat16).
template <class To, class From>
void to_channels_first(const From* from, To* to, int images, Dims d, cudaStream_t stream) {
  launch_per_image("transpose_kernel (NHWC to NCHW: a batch or a convolution's weight gradient)", images, d.size(),
                   stream, &transpose_kernel<false, To, From>, from, to, ImageLayout::of(d, false),
                   ImageLayout::of(d, true));
}

}  // namespace strata::cuda
