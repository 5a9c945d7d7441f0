// strata/backend/cuda/output_sums.cuh: per image, the output's binary-accuracy matches and its
// error over a rectangle (core/output_sums.hpp), on the GPU.
//
// Why: the trainer reports accuracy and the hole's error for every batch; copying a v1 batch's
// output to the host for that (3 MiB at batch 64) and counting it there cost about as much as the
// GPU's training step. One block per image sums its values (core/output_sums.hpp's per-value
// rules, in double, block_sum's fixed order) and only batch x 3 numbers cross. Reading them waits
// for the stream, like reading the loss.
#pragma once

#include <cuda_runtime.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/blank.hpp"
#include "strata/core/output_sums.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cuda {

template <class T>
__global__ void output_sums_kernel(const T* output, const T* target, Dims d, BlankRectangle r, bool channels_last,
                                   OutputSums* sums) {
  const std::size_t size = d.size();
  const T* o = output + static_cast<std::size_t>(blockIdx.x) * size;
  const T* t = target + static_cast<std::size_t>(blockIdx.x) * size;
  double matching = 0.0;
  for (std::size_t i = threadIdx.x; i < size; i += blockDim.x)
    matching += rounds_alike(static_cast<float>(o[i]), static_cast<float>(t[i])) ? 1.0 : 0.0;
  double l1 = 0.0, l2 = 0.0;
  const int values = d.c * r.pixels();
  for (int i = static_cast<int>(threadIdx.x); i < values; i += static_cast<int>(blockDim.x)) {
    const std::size_t at = rectangle_value_offset(r, d, i, channels_last);
    const double diff = static_cast<double>(o[at]) - static_cast<double>(t[at]);
    l1 += fabs(diff);
    l2 += diff * diff;
  }
  const double total_matching = block_sum(matching);
  const double total_l1 = block_sum(l1);
  const double total_l2 = block_sum(l2);
  if (threadIdx.x == 0) sums[blockIdx.x] = OutputSums{total_matching, total_l1, total_l2};
}

// out[0, batch) for each image of output against target; waits for the model's stream.
template <class T>
void output_sums(BasicTensor<const T> output, BasicTensor<const T> target, const BlankRectangle& r, OutputSums* out,
                 Context& ctx) {
  if (output.batch == 0) return;
  ctx.require_eager("output_sums");
  OutputSums* device = ctx.output_sums_device(output.batch);
  output_sums_kernel<T><<<static_cast<unsigned>(output.batch), kThreads, 0, ctx.stream()>>>(
      output.data, target.data, output.dims, r, ctx.channels_last(), device);
  check(cudaGetLastError(), "output_sums_kernel");
  ctx.download_output_sums(out, output.batch);
}

}  // namespace strata::cuda
