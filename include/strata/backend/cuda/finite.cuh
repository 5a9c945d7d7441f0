// strata/backend/cuda/finite.cuh: counting NaN and infinite values on the GPU, for the Model's checks.
//
// The same per-element test as the CPU (elementwise::is_finite). The count goes through the
// loss's reduction buffers (a fixed grid of partial sums, then one block), which are free once
// the loss has been read, and reading it waits for the stream.
#pragma once

#include <algorithm>
#include <cstddef>

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/backend/cuda/loss.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/elementwise.hpp"

namespace strata::cuda {

template <class T>
__global__ void non_finite_kernel(const T* data, std::size_t n, double* partials) {
  double bad = 0.0;
  for (std::size_t i = first_index(); i < n; i += grid_stride())
    bad += elementwise::is_finite(static_cast<compute_t<T>>(data[i])) ? 0.0 : 1.0;
  const double block = block_sum(bad);
  if (threadIdx.x == 0) partials[blockIdx.x] = block;
}

template <class T>
std::size_t count_non_finite(const T* data, std::size_t n, const StepInfo& step) {
  if (n == 0) return 0;
  Context& ctx = context_of(step);
  ctx.require_eager("count_non_finite");
  const int blocks = static_cast<int>(std::min<std::size_t>((n + kThreads - 1) / kThreads, kLossBlocks));
  non_finite_kernel<T><<<blocks, kThreads, 0, ctx.stream()>>>(data, n, ctx.loss_partials());
  check(cudaGetLastError(), "non_finite_kernel");
  loss_total_kernel<double><<<1, kThreads, 0, ctx.stream()>>>(ctx.loss_partials(), blocks, 1.0, ctx.loss_total());
  check(cudaGetLastError(), "loss_total_kernel (non-finite count)");
  return static_cast<std::size_t>(ctx.read_loss());
}

}  // namespace strata::cuda
