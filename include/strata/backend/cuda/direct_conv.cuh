// strata/backend/cuda/direct_conv.cuh: direct convolution kernels for layers with at most 4
// channels on one side, such as an autoencoder's RGB input and output layers.
//
// cuDNN runs those layers as GEMMs with one tiny dimension, several times longer than their memory
// traffic takes (core/direct_conv.hpp has the figures and the math). With
// Context::set_direct_convolutions (off by default), conv.hpp times these kernels against
// cuDNN's choice on a pass's first call, checks their result against cuDNN's
// (direct_agreement) and keeps the faster. Every kernel here calls core/direct_conv.hpp's
// functions, which tests/core/direct_conv.cpp checks against the CPU backend.
//
//   forward / backward-data: grid (pixel blocks, output chunks, images), 256 threads; a thread sums
//     one output pixel for a chunk of 4, 8 or 16 outputs, the chunk's float weights in shared memory.
//   backward-filter: grid (FilterGrid::blocks_x, tiles of wide-side channels, FilterGrid::groups),
//     128 threads, then a warp per weight adding the blocks' sums in double, in a fixed order.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <cuda_runtime.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/direct_conv.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/shape.hpp"

namespace strata::cuda {

template <int K, int OB, class T>
__global__ void direct_conv_kernel(const T* x, Dims in, direct_conv::PixelStrides xs, T* y, Dims out,
                                   direct_conv::PixelStrides ys, const float* weight, direct_conv::WeightView view,
                                   const float* bias, bool relu, int pad_top, int pad_left) {
  extern __shared__ __align__(16) float chunk[];  // in.c x K x K taps of OB outputs (chunk_weight)
  const int first_output = static_cast<int>(blockIdx.y) * OB;
  const int chunk_size = OB * in.c * K * K;
  for (int j = static_cast<int>(threadIdx.x); j < chunk_size; j += static_cast<int>(blockDim.x))
    chunk[j] = direct_conv::chunk_weight(weight, view, out.c, K, OB, first_output, j);
  __syncthreads();
  const T* image = x + static_cast<std::size_t>(blockIdx.z) * in.size();
  T* target = y + static_cast<std::size_t>(blockIdx.z) * out.size();
  const int plane = out.h * out.w;
  for (int p = first_in_image(); p < plane; p += image_stride()) {
    const int row = p / out.w;
    const int column = p % out.w;
    float sums[OB];
    direct_conv::pixel_sums<K, OB>(image, xs, in.h, in.w, in.c, chunk, row, column, pad_top, pad_left, sums);
    for (int j = 0; j < OB; ++j) {
      const int o = first_output + j;
      if (o >= out.c) break;
      float v = sums[j];
      if (bias != nullptr) v += bias[o];
      if (relu) v = elementwise::relu(v);
      target[ys.at(o, row, column)] = to_scalar<T>(v);
    }
  }
}

template <int K, bool ThinInput, class T>
__global__ void direct_filter_kernel(const T* x, Dims in, direct_conv::PixelStrides xs, const T* dy, Dims out,
                                     direct_conv::PixelStrides ys, int fixed_count, int thin, int images,
                                     direct_conv::FilterGrid grid, int pad_top, int pad_left, float* partials) {
  using namespace direct_conv;
  __shared__ float block_sums[kFilterSums][kFilterThreads];
  const int t = static_cast<int>(threadIdx.x);
  const int fixed = static_cast<int>(blockIdx.y) * grid.fixed_lanes + t % grid.fixed_lanes;
  float sums[kMaxThin][K][K];
  for (int a = 0; a < kMaxThin; ++a)
    for (int r = 0; r < K; ++r)
      for (int s = 0; s < K; ++s) sums[a][r][s] = 0.0f;
  if (fixed < fixed_count)
    for_each_segment(grid, images, static_cast<int>(blockIdx.z), static_cast<int>(blockIdx.x), t / grid.fixed_lanes,
                     [&](int n, int row, int first_column) {
                       add_filter_segment<K, ThinInput>(x + static_cast<std::size_t>(n) * in.size(), xs, in,
                                                        dy + static_cast<std::size_t>(n) * out.size(), ys, out.w,
                                                        fixed, thin, row, first_column, pad_top, pad_left, sums);
                     });
  for (int a = 0; a < kMaxThin; ++a)
    for (int r = 0; r < K; ++r)
      for (int s = 0; s < K; ++s) block_sums[sum_index(a, r, s, K)][t] = sums[a][r][s];
  __syncthreads();
  // A fixed tree over the segment lanes of each wide-side channel (add_tree_level).
  for (int half = kFilterThreads / 2; half >= grid.fixed_lanes; half /= 2) {
    add_tree_level(block_sums, kMaxThin * K * K, t, half);
    __syncthreads();
  }
  if (t < grid.fixed_lanes && fixed < fixed_count) {
    float* block_partials = partials + partials_offset(grid.blocks_x, grid.groups, fixed,
                                                       static_cast<int>(blockIdx.z), static_cast<int>(blockIdx.x));
    for (int v = 0; v < kMaxThin * K * K; ++v) block_partials[v] = block_sums[v][t];
  }
}

// Weight (o, i, r, s) of a filters x channels x K x K gradient: one warp adds its blocks' sums, in
// double, each lane every 32nd (lane_total), then the lanes' totals by shuffles in a fixed tree
// (total_of_lanes).
template <int K, bool ThinInput>
__global__ void direct_filter_total_kernel(const float* partials, direct_conv::FilterGrid grid, int filters,
                                           int channels, float* dweight) {
  using direct_conv::kTotalLanes;
  const int lane = static_cast<int>(threadIdx.x) % kTotalLanes;
  const int warps = static_cast<int>(blockDim.x) / kTotalLanes;
  const int count = filters * channels * K * K;
  for (int index = static_cast<int>(blockIdx.x) * warps + static_cast<int>(threadIdx.x) / kTotalLanes; index < count;
       index += static_cast<int>(gridDim.x) * warps) {  // the same for the whole warp
    double total =
        direct_conv::lane_total(partials, grid, direct_conv::weight_sums(channels, K, ThinInput, index), lane);
    for (int offset = kTotalLanes / 2; offset > 0; offset /= 2) total += __shfl_down_sync(0xffffffffu, total, offset);
    if (lane == 0) dweight[index] = static_cast<float>(total);
  }
}

// How far `direct` is from `reference` over n values (direct_conv::Agreement): each block merges
// its threads', then takes the largest of each field into result[0..2] by atomicMax on the
// doubles' bits (all three are at least 0, so their bits order as they do; a maximum does not
// depend on the order, so the result is deterministic). Runs once per pass, on its first call,
// when the direct kernel is tried.
template <class V>
__global__ void direct_agreement_kernel(const V* direct, const V* reference, std::size_t n,
                                        unsigned long long* result) {
  __shared__ direct_conv::Agreement parts[kThreads];
  direct_conv::Agreement mine{};
  for (std::size_t i = first_index(); i < n; i += grid_stride())
    mine.add(static_cast<float>(direct[i]), static_cast<float>(reference[i]));
  parts[threadIdx.x] = mine;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) parts[threadIdx.x].merge(parts[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    atomicMax(result + 0, static_cast<unsigned long long>(__double_as_longlong(parts[0].difference)));
    atomicMax(result + 1, static_cast<unsigned long long>(__double_as_longlong(parts[0].scale)));
    atomicMax(result + 2, static_cast<unsigned long long>(__double_as_longlong(parts[0].non_finite)));
  }
}

namespace detail {

template <int K, int OB, class T>
void launch_direct_conv(const T* x, Dims in, T* y, Dims out, int images, bool channels_last, const float* weight,
                        direct_conv::WeightView view, const float* bias, bool relu, int pad_top, int pad_left,
                        cudaStream_t stream) {
  const int plane = out.h * out.w;
  const dim3 grid(static_cast<unsigned>((plane + direct_conv::kForwardThreads - 1) / direct_conv::kForwardThreads),
                  static_cast<unsigned>(direct_conv::chunks_of(out.c, channels_last)), static_cast<unsigned>(images));
  const std::size_t shared = static_cast<std::size_t>(OB) * static_cast<std::size_t>(in.c) * K * K * sizeof(float);
  direct_conv_kernel<K, OB, T><<<grid, direct_conv::kForwardThreads, shared, stream>>>(
      x, in, direct_conv::pixel_strides(in, channels_last), y, out, direct_conv::pixel_strides(out, channels_last),
      weight, view, bias, relu, pad_top, pad_left);
  check(cudaGetLastError(), "direct_conv_kernel (a direct convolution, core/direct_conv.hpp)");
}

template <int K, class T>
void launch_direct_conv_k(const T* x, Dims in, T* y, Dims out, int images, bool channels_last, const float* weight,
                          direct_conv::WeightView view, const float* bias, bool relu, int pad_top, int pad_left,
                          cudaStream_t stream) {
  switch (direct_conv::outputs_per_thread(out.c, channels_last)) {
    case 4:
      return launch_direct_conv<K, 4>(x, in, y, out, images, channels_last, weight, view, bias, relu, pad_top,
                                      pad_left, stream);
    case 8:
      return launch_direct_conv<K, 8>(x, in, y, out, images, channels_last, weight, view, bias, relu, pad_top,
                                      pad_left, stream);
    default:
      return launch_direct_conv<K, 16>(x, in, y, out, images, channels_last, weight, view, bias, relu, pad_top,
                                       pad_left, stream);
  }
}

template <int K, bool ThinInput, class T>
void launch_direct_filter(const T* x, Dims in, const T* dy, Dims out, int images, bool channels_last, int pad_top,
                          int pad_left, const direct_conv::FilterGrid& grid, float* partials, float* dweight,
                          cudaStream_t stream) {
  const int fixed = ThinInput ? out.c : in.c;
  const int thin = ThinInput ? in.c : out.c;
  const dim3 blocks(static_cast<unsigned>(grid.blocks_x), static_cast<unsigned>(grid.tiles),
                    static_cast<unsigned>(grid.groups));
  direct_filter_kernel<K, ThinInput, T><<<blocks, direct_conv::kFilterThreads, 0, stream>>>(
      x, in, direct_conv::pixel_strides(in, channels_last), dy, out, direct_conv::pixel_strides(out, channels_last),
      fixed, thin, images, grid, pad_top, pad_left, partials);
  check(cudaGetLastError(), "direct_filter_kernel (a direct convolution's weight gradient, core/direct_conv.hpp)");
  // A warp per weight, 8 warps a block.
  const int weights = out.c * in.c * K * K;
  constexpr int kWarpsPerBlock = kThreads / direct_conv::kTotalLanes;
  const int total_blocks = std::min((weights + kWarpsPerBlock - 1) / kWarpsPerBlock, static_cast<int>(kMaxBlocks));
  direct_filter_total_kernel<K, ThinInput><<<total_blocks, kThreads, 0, stream>>>(partials, grid, out.c, in.c,
                                                                                  dweight);
  check(cudaGetLastError(), "direct_filter_total_kernel (a direct convolution's weight gradient)");
}

template <bool ThinInput, class T>
void launch_direct_filter_k(int k, const T* x, Dims in, const T* dy, Dims out, int images, bool channels_last,
                            int pad_top, int pad_left, const direct_conv::FilterGrid& grid, float* partials,
                            float* dweight, cudaStream_t stream) {
  switch (k) {
    case 1: return launch_direct_filter<1, ThinInput>(x, in, dy, out, images, channels_last, pad_top, pad_left, grid,
                                                      partials, dweight, stream);
    case 2: return launch_direct_filter<2, ThinInput>(x, in, dy, out, images, channels_last, pad_top, pad_left, grid,
                                                      partials, dweight, stream);
    case 3: return launch_direct_filter<3, ThinInput>(x, in, dy, out, images, channels_last, pad_top, pad_left, grid,
                                                      partials, dweight, stream);
    default: break;
  }
  throw std::logic_error("direct convolution: kernel size " + std::to_string(k) + " (1 to 3 only; a strata bug)");
}

}  // namespace detail

// y = conv(x, the pass's view of the weights) (+ bias) (ReLU): a forward pass, or with
// backward_data_weights and padding k - 1 - pad, a backward-data pass (dy in, dx out). `in` and
// `out` are this pass's input and output dims; the shape must satisfy direct_conv::forward_fits
// (backward_data_fits).
template <class T>
void direct_conv_pass(const T* x, Dims in, T* y, Dims out, int images, bool channels_last, const float* weight,
                      direct_conv::WeightView view, int k, const float* bias, bool relu, int pad_top, int pad_left,
                      cudaStream_t stream) {
  if (images <= 0) return;
  check_images_per_launch("direct_conv_kernel", images);
  switch (k) {
    case 1: return detail::launch_direct_conv_k<1>(x, in, y, out, images, channels_last, weight, view, bias, relu,
                                                   pad_top, pad_left, stream);
    case 2: return detail::launch_direct_conv_k<2>(x, in, y, out, images, channels_last, weight, view, bias, relu,
                                                   pad_top, pad_left, stream);
    case 3: return detail::launch_direct_conv_k<3>(x, in, y, out, images, channels_last, weight, view, bias, relu,
                                                   pad_top, pad_left, stream);
    default: break;
  }
  throw std::logic_error("direct convolution: kernel size " + std::to_string(k) + " (1 to 3 only; a strata bug)");
}

// dweight = the weight gradient of a filters x channels x k x k convolution with input x (dims
// in) and output gradient dy (dims out), stride 1; `partials` holds
// direct_conv::filter_partials floats (the context's convolution workspace).
template <class T>
void direct_filter_pass(const T* x, Dims in, const T* dy, Dims out, int images, bool channels_last, int k,
                        int pad_top, int pad_left, float* partials, std::size_t partial_floats, float* dweight,
                        cudaStream_t stream) {
  if (images <= 0) return;
  const bool thin_input = in.c <= direct_conv::kMaxThin;
  const int fixed = thin_input ? out.c : in.c;
  const direct_conv::FilterGrid grid = direct_conv::filter_grid(fixed, images, out, channels_last);
  if (direct_conv::filter_partials(in, out, images, channels_last) > partial_floats)
    throw std::logic_error("direct convolution: its partial sums do not fit the workspace (a strata bug)");
  if (thin_input)
    detail::launch_direct_filter_k<true>(k, x, in, dy, out, images, channels_last, pad_top, pad_left, grid, partials,
                                         dweight, stream);
  else
    detail::launch_direct_filter_k<false>(k, x, in, dy, out, images, channels_last, pad_top, pad_left, grid, partials,
                                          dweight, stream);
}

// How far the n values at `direct` are from those at `reference`; waits for the stream. `slot`
// is device memory for three 64-bit values.
template <class V>
direct_conv::Agreement direct_agreement(const V* direct, const V* reference, std::size_t n,
                                        unsigned long long* slot, cudaStream_t stream) {
  check(cudaMemsetAsync(slot, 0, 3 * sizeof(unsigned long long), stream),
        "cudaMemsetAsync (a direct convolution checked against cuDNN)");  // all bits 0: 0.0
  if (n > 0) {
    direct_agreement_kernel<V><<<blocks_for(n), kThreads, 0, stream>>>(direct, reference, n, slot);
    check(cudaGetLastError(), "direct_agreement_kernel (a direct convolution checked against cuDNN)");
  }
  unsigned long long bits[3] = {};
  check(cudaMemcpyAsync(bits, slot, sizeof(bits), cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync (a direct convolution checked against cuDNN)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (a direct convolution checked against cuDNN)");
  return direct_conv::Agreement{std::bit_cast<double>(bits[0]), std::bit_cast<double>(bits[1]),
                                std::bit_cast<double>(bits[2])};
}

}  // namespace strata::cuda
