// strata/backend/cuda/loss.cuh: loss value and output gradient in one pass on the GPU.
//
// Each element's loss and gradient come from core/elementwise.hpp, weighted by its pixel's
// weight (losses/loss.hpp gives the reduction). The value is summed in double: a fixed grid of
// at most kLossBlocks blocks writes one partial sum each, and one block adds them in a fixed
// order, so the loss is deterministic. Returning it waits for the stream: the Model checks it is
// finite before any weight changes. While a training step is recorded as a CUDA graph
// (step_graph.cuh) the loss goes to the step's device result instead and nothing waits; the
// return value is then NaN.
#pragma once

#include <algorithm>
#include <limits>
#include <span>

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/tensor.hpp"
#include "strata/losses/loss.hpp"

namespace strata::cuda {

// Computed in C = compute_t<T> (float for a bfloat16 model's prediction, target and gradient).
// Element i's pixel weight is that of its pixel in either layout (core/layout.hpp).
template <LossFunction F, class T, class C = compute_t<T>>
__global__ void loss_kernel(const T* p, const T* t, const float* weights, ImageLayout layout, std::size_t n, C scale,
                            T* g, double* partials) {
  namespace ew = strata::elementwise;
  double sum = 0.0;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const C w = weights == nullptr ? C(1) : static_cast<C>(weights[layout.pixel_of(i)]);
    const C prediction = static_cast<C>(p[i]);
    const C target = static_cast<C>(t[i]);
    if constexpr (F == LossFunction::binary_cross_entropy) {
      sum += static_cast<double>(w * ew::binary_cross_entropy(prediction, target));
      g[i] = to_scalar<T>(w * scale * ew::binary_cross_entropy_gradient(prediction, target));
    } else {
      sum += static_cast<double>(w * ew::squared_error(prediction, target));
      g[i] = to_scalar<T>(w * scale * ew::squared_error_gradient(prediction, target));
    }
  }
  const double block = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = block;
}

// total[0] = (sum of partials[0..count)) / denominator, with one block. (A template only so that
// this header-only kernel may be defined in every translation unit.)
template <class Sum>
__global__ void loss_total_kernel(const Sum* partials, int count, Sum denominator, Sum* total) {
  Sum sum = 0.0;
  for (int i = static_cast<int>(threadIdx.x); i < count; i += kThreads) sum += partials[i];
  const Sum all = block_sum(sum);
  if (threadIdx.x == 0) total[0] = all / denominator;
}

// Returns the loss; writes its gradient with respect to `prediction` into `gradient`.
template <class T>
double loss_forward_backward(LossFunction function, BasicTensor<const T> prediction, BasicTensor<const T> target,
                             std::span<const float> pixel_weights, BasicTensor<T> gradient, const StepInfo& step) {
  Context& ctx = context_of(step);
  const Dims d = prediction.dims;
  const ImageLayout layout = ctx.layout(d);
  const double denominator = loss_denominator(pixel_weights, prediction.batch, d);
  const auto scale = static_cast<compute_t<T>>(1.0 / denominator);
  const float* weights = ctx.pixel_weights(pixel_weights.data(), pixel_weights.size());

  const std::size_t n = prediction.size();
  const int blocks = static_cast<int>(std::min<std::size_t>((n + kThreads - 1) / kThreads, kLossBlocks));
  auto run = [&](auto kernel) {
    kernel<<<blocks, kThreads, 0, ctx.stream()>>>(prediction.data, target.data, weights, layout, n, scale,
                                                   gradient.data, ctx.loss_partials());
    check(cudaGetLastError(), "loss_kernel");
  };
  if (function == LossFunction::binary_cross_entropy) run(&loss_kernel<LossFunction::binary_cross_entropy, T>);
  else run(&loss_kernel<LossFunction::mean_squared_error, T>);
  const bool recording = ctx.graph_phase() == GraphPhase::recording;
  double* total = recording ? &ctx.device_result()->loss : ctx.loss_total();
  loss_total_kernel<double><<<1, kThreads, 0, ctx.stream()>>>(ctx.loss_partials(), blocks, denominator, total);
  check(cudaGetLastError(), "loss_total_kernel");
  return recording ? std::numeric_limits<double>::quiet_NaN() : ctx.read_loss();
}

}  // namespace strata::cuda
