// strata/backend/cuda/bias.cuh: a convolution's bias on the GPU: adding it together with the
// ReLU after it, and its gradient, through that ReLU too.
//
//   forward   y = relu(y + b[c]) in one pass over the convolution's output (when cuDNN's fused
//             convolution + bias + ReLU is refused or slower: conv.hpp times both)
//   backward  db[c] = sum over n, h, w of g,  g = dy, or relu_backward(y, dy) written to `masked`
// The gradient takes two passes with a fixed order, so the result is the same bit for bit on every
// run: one block per (image, channel) plane sums it into `partials` (doubles, n x c), then one
// block per channel adds its n partials. With a ReLU the first pass also writes the masked
// gradient the convolution's other two backward passes read, so the ReLU's own backward pass
// disappears (Model pairs them, as on the CPU: conv2d_backward_relu). The per-element math is
// core/elementwise.hpp's, as on the CPU; a bfloat16 model's values are computed in float, its
// bias and bias gradient are float.
//
// Channels last (core/layout.hpp): the forward pass runs over each image's values; the first
// gradient pass runs ChannelSumLanes::kChunks blocks per (image, tile of up to 32 runs of
// channels), each thread summing one channel, or four neighbouring ones moved as one Pack4 where
// the channels are a multiple of 4, over a fixed set of pixels (ChannelSumLanes, so that a warp
// reads neighbouring values), the block's sums per channel added in a fixed order into partials
// per (image, chunk); the second pass adds those. Deterministic too.
//
// Why not cudnnConvolutionBackwardBias: on an H200 it took 3.8 ms of a 15 ms ConvNet v1 training
// step at batch 256 (its calc_bias_diff kernel, ncu), for a read of the gradients that takes
// about 0.2 ms at memory speed.
#pragma once

#include <cstddef>

#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/packed.hpp"

namespace strata::cuda {

// One value with its bias added, and with Relu the ReLU applied.
template <bool Relu, class T, class C>
__device__ inline T biased(T value, C bias) {
  const C v = static_cast<C>(value) + bias;
  return to_scalar<T>(Relu ? strata::elementwise::relu(v) : v);
}

// Block p adds the bias of plane p = n * channels + c and, with Relu, applies the ReLU, in place;
// four values at a time where the plane allows (core/packed.hpp).
template <bool Relu, class T, class P>
__global__ void bias_relu_kernel(T* y, const P* bias, int channels, std::size_t plane) {
  using C = compute_t<T>;
  const C b = bias[blockIdx.x % static_cast<unsigned>(channels)];
  T* p = y + static_cast<std::size_t>(blockIdx.x) * plane;
  if (packable(p, plane)) {
    Pack4<T>* packs = reinterpret_cast<Pack4<T>*>(p);
    for (std::size_t i = threadIdx.x; i < plane / 4; i += blockDim.x) {
      Pack4<T> v = packs[i];
      for (int j = 0; j < 4; ++j) v.v[j] = biased<Relu>(v.v[j], b);
      packs[i] = v;
    }
    return;
  }
  for (std::size_t i = threadIdx.x; i < plane; i += blockDim.x) p[i] = biased<Relu>(p[i], b);
}

// The same over channels-last images: value r of an image has channel r % channels (four
// neighbouring channels of a pixel at a time where the channels and the image allow).
template <bool Relu, class T, class P>
__global__ void bias_relu_channels_last_kernel(T* y, const P* bias, ImageLayout layout) {
  using C = compute_t<T>;
  const int size = layout.image_size();
  T* image = y + image_base(size);
  if (layout.channels % 4 == 0 && packable(image, static_cast<std::size_t>(size))) {
    Pack4<T>* packs = reinterpret_cast<Pack4<T>*>(image);
    for (int q = first_in_image(); q < size / 4; q += image_stride()) {
      const int c = layout.channel_at(4 * q);
      Pack4<T> v = packs[q];
      for (int j = 0; j < 4; ++j) v.v[j] = biased<Relu>(v.v[j], static_cast<C>(bias[c + j]));
      packs[q] = v;
    }
    return;
  }
  for (int r = first_in_image(); r < size; r += image_stride())
    image[r] = biased<Relu>(image[r], static_cast<C>(bias[layout.channel_at(r)]));
}

template <bool Relu, class T, class P>
void launch_bias(const char* name, T* y, const P* bias, int batch, ImageLayout layout, cudaStream_t stream) {
  if (layout.channels_last)
    launch_per_image(name, batch, channel_pack_items(y, layout.channels, static_cast<std::size_t>(layout.image_size())),
                     stream, &bias_relu_channels_last_kernel<Relu, T, P>, y, bias, layout);
  else
    launch_per_plane(name, batch, layout.channels, stream, &bias_relu_kernel<Relu, T, P>, y, bias, layout.channels,
                     static_cast<std::size_t>(layout.plane));
}

// y = relu(y + bias[c]) over a batch of images.
template <class T, class P>
void bias_relu(T* y, const P* bias, int batch, ImageLayout layout, cudaStream_t stream) {
  launch_bias<true>("bias_relu_kernel (a convolution's bias and the ReLU after it)", y, bias, batch, layout, stream);
}

// y = y + bias[c] (a bfloat16 convolution: cuDNN's cudnnAddTensor wants the bias in y's type;
// channels last).
template <class T, class P>
void bias_add(T* y, const P* bias, int batch, ImageLayout layout, cudaStream_t stream) {
  launch_bias<false>("bias_relu_kernel (a convolution's bias)", y, bias, batch, layout, stream);
}

// Block p sums plane p = n * channels + c of g into partials[p]; g is dy, or relu_backward(y, dy)
// (then also stored in masked). Four values at a time where the planes allow (core/packed.hpp).
template <bool Relu, class T>
__global__ void bias_plane_sums_kernel(const T* y, const T* dy, T* masked, std::size_t plane, double* partials) {
  using C = compute_t<T>;
  const std::size_t base = static_cast<std::size_t>(blockIdx.x) * plane;
  double sum = 0.0;
  if (packable(dy + base, plane) && (!Relu || (packable(y + base, plane) && packable(masked + base, plane)))) {
    const Pack4<T>* gradients = reinterpret_cast<const Pack4<T>*>(dy + base);
    for (std::size_t i = threadIdx.x; i < plane / 4; i += blockDim.x) {
      const Pack4<T> g = gradients[i];
      if constexpr (Relu) {
        const Pack4<T> out = reinterpret_cast<const Pack4<T>*>(y + base)[i];
        Pack4<T> m;
        for (int j = 0; j < 4; ++j) {
          const C v = strata::elementwise::relu_backward(static_cast<C>(out.v[j]), static_cast<C>(g.v[j]));
          m.v[j] = to_scalar<T>(v);  // exact: v is dy or 0
          sum += static_cast<double>(v);
        }
        reinterpret_cast<Pack4<T>*>(masked + base)[i] = m;
      } else {
        for (int j = 0; j < 4; ++j) sum += static_cast<double>(static_cast<C>(g.v[j]));
      }
    }
    const double total = block_sum(sum);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
    return;
  }
  for (std::size_t i = threadIdx.x; i < plane; i += blockDim.x) {
    if constexpr (Relu) {
      const C g = strata::elementwise::relu_backward(static_cast<C>(y[base + i]), static_cast<C>(dy[base + i]));
      masked[base + i] = to_scalar<T>(g);  // exact: g is dy or 0
      sum += static_cast<double>(g);
    } else {
      sum += static_cast<double>(static_cast<C>(dy[base + i]));
    }
  }
  const double total = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// Width neighbouring values at p: one Pack4 access when Width is 4 (p aligned to it).
template <int Width, class T>
__device__ inline void load_run(const T* p, T (&v)[Width]) {
  if constexpr (Width == 4) {
    const Pack4<T> pack = *reinterpret_cast<const Pack4<T>*>(p);
    for (int j = 0; j < 4; ++j) v[j] = pack.v[j];
  } else {
    v[0] = *p;
  }
}
template <int Width, class T>
__device__ inline void store_run(T* p, const T (&v)[Width]) {
  if constexpr (Width == 4) {
    Pack4<T> pack;
    for (int j = 0; j < 4; ++j) pack.v[j] = v[j];
    *reinterpret_cast<Pack4<T>*>(p) = pack;
  } else {
    *p = v[0];
  }
}

// Channels last: block (tile * kChunks + chunk, n) sums its channels of image n over its pixels
// (ChannelSumLanes: Width neighbouring channels a thread, moved as one Pack4 when Width is 4) into
// partials[(n * kChunks + chunk) * channels + c], and with Relu writes the masked gradient of
// those values.
template <bool Relu, int Width, class T>
__global__ void bias_channel_sums_channels_last_kernel(const T* y, const T* dy, T* masked, ImageLayout layout,
                                                       ChannelSumLanes lanes, double* partials) {
  using C = compute_t<T>;
  constexpr int kChunks = ChannelSumLanes::kChunks;
  __shared__ double lane_sums[Width][kThreads];
  const int t = static_cast<int>(threadIdx.x);
  const int tile = static_cast<int>(blockIdx.x) / kChunks;
  const int chunk = static_cast<int>(blockIdx.x) % kChunks;
  const int c = lanes.channel(tile, t);  // the first of the thread's Width channels
  const std::size_t base = image_base(layout.image_size());
  double sum[Width] = {};
  const bool mine = c + Width <= layout.channels;  // always, for c < channels, where Width divides them
  if (mine) {
    for (int p = lanes.first_pixel(chunk, t); p < layout.plane; p += lanes.pixel_step()) {
      const std::size_t at = base + static_cast<std::size_t>(layout.offset(c, p));
      T g[Width];
      load_run(dy + at, g);
      if constexpr (Relu) {
        T out[Width];
        load_run(y + at, out);
        for (int j = 0; j < Width; ++j) {
          const C v = strata::elementwise::relu_backward(static_cast<C>(out[j]), static_cast<C>(g[j]));
          g[j] = to_scalar<T>(v);  // exact: v is dy or 0
          sum[j] += static_cast<double>(v);
        }
        store_run(masked + at, g);
      } else {
        for (int j = 0; j < Width; ++j) sum[j] += static_cast<double>(static_cast<C>(g[j]));
      }
    }
  }
  for (int j = 0; j < Width; ++j) lane_sums[j][t] = sum[j];
  __syncthreads();
  if (t < lanes.channel_lanes && mine) {  // pixel lane 0 adds its channels' pixel lanes
    const std::size_t row = static_cast<std::size_t>(blockIdx.y) * kChunks + static_cast<std::size_t>(chunk);
    for (int j = 0; j < Width; ++j) {
      double total = 0.0;
      for (int lane = 0; lane < lanes.pixel_lanes; ++lane) total += lane_sums[j][lane * lanes.channel_lanes + t];
      partials[row * static_cast<std::size_t>(layout.channels) + static_cast<std::size_t>(c + j)] = total;
    }
  }
}

template <bool Relu, int Width, class T>
void launch_bias_channel_sums(const T* y, const T* dy, T* masked, int batch, ImageLayout layout, double* partials,
                              cudaStream_t stream) {
  const ChannelSumLanes lanes = ChannelSumLanes::of(layout.channels, kThreads, Width);
  const dim3 grid(static_cast<unsigned>(lanes.tiles(layout.channels) * ChannelSumLanes::kChunks),
                  static_cast<unsigned>(batch));
  bias_channel_sums_channels_last_kernel<Relu, Width, T><<<grid, kThreads, 0, stream>>>(y, dy, masked, layout, lanes,
                                                                                       partials);
  check(cudaGetLastError(), "bias_channel_sums_channels_last_kernel (a convolution's bias gradient)");
}

// Block c adds partials[n * channels + c] over the rows n (images, or images x chunks) into db[c].
template <class P>
__global__ void bias_channel_totals_kernel(const double* partials, int rows, int channels, P* db) {
  double sum = 0.0;
  for (int n = static_cast<int>(threadIdx.x); n < rows; n += static_cast<int>(blockDim.x))
    sum += partials[static_cast<std::size_t>(n) * channels + blockIdx.x];
  const double total = block_sum(sum);
  if (threadIdx.x == 0) db[blockIdx.x] = static_cast<P>(total);
}

// db from dy (a batch of images laid out as `layout` says); with relu_output, also masked =
// relu_backward(relu_output, dy). partials: batch * channels doubles of scratch, times
// ChannelSumLanes::kChunks with channels last (conv_plan.hpp sizes them so).
template <class T, class P>
void bias_gradient(const T* dy, const T* relu_output, T* masked, int batch, ImageLayout layout, double* partials,
                   P* db, cudaStream_t stream) {
  const int channels = layout.channels;
  const auto plane = static_cast<std::size_t>(layout.plane);
  if (batch == 0 || channels == 0) return;
  int partial_rows = batch;  // partials per channel
  if (layout.channels_last) {
    check_images_per_launch("bias_channel_sums_channels_last_kernel", batch);
    // Four channels a thread where the channels are a multiple of 4 and the tensors' first
    // images are aligned to a Pack4 (then every image is: an image is channels x pixels values).
    const auto size = static_cast<std::size_t>(layout.image_size());
    const bool relu = relu_output != nullptr;
    const bool packed = channels % 4 == 0 && packable(dy, size) &&
                        (!relu || (packable(relu_output, size) && packable(static_cast<const T*>(masked), size)));
    const T* none = nullptr;
    if (relu && packed)
      launch_bias_channel_sums<true, 4>(relu_output, dy, masked, batch, layout, partials, stream);
    else if (relu)
      launch_bias_channel_sums<true, 1>(relu_output, dy, masked, batch, layout, partials, stream);
    else if (packed)
      launch_bias_channel_sums<false, 4>(none, dy, static_cast<T*>(nullptr), batch, layout, partials, stream);
    else
      launch_bias_channel_sums<false, 1>(none, dy, static_cast<T*>(nullptr), batch, layout, partials, stream);
    partial_rows = batch * ChannelSumLanes::kChunks;
  } else if (relu_output != nullptr)
    launch_per_plane("bias_plane_sums_kernel (a convolution's bias gradient through its ReLU)", batch, channels,
                     stream, &bias_plane_sums_kernel<true, T>, relu_output, dy, masked, plane, partials);
  else
    launch_per_plane("bias_plane_sums_kernel (a convolution's bias gradient)", batch, channels, stream,
                     &bias_plane_sums_kernel<false, T>, static_cast<const T*>(nullptr), dy, static_cast<T*>(nullptr),
                     plane, partials);
  bias_channel_totals_kernel<P><<<static_cast<unsigned>(channels), kThreads, 0, stream>>>(partials, partial_rows,
                                                                                           channels, db);
  check(cudaGetLastError(), "bias_channel_totals_kernel (a convolution's bias gradient)");
}

}  // namespace strata::cuda
