// strata/backend/cuda/dropout.cuh: inverted dropout on the GPU with a recomputed mask.
//
// cuDNN's dropout keeps its own generator state, so its mask could not match the CPU's and would
// have to be stored for backward. Here each element's keep/drop is the same counter-based draw
// the CPU backend makes (uniform01 of seed, dropout_stream(step, layer), element index: its NCHW
// index also where channels are last, core/layout.hpp), so both backends drop the same elements
// and backward recomputes the mask instead of reading one.
// In a training step recorded as a CUDA graph (step_graph.cuh), the seed and step come from the
// values staged in device memory for each replay, not from the kernel's arguments.
#pragma once

#include <cstdint>

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/layer.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/random.hpp"
#include "strata/core/step_graph.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cuda {

// values: null when run eagerly; in a recorded step, where its seed and step are.
template <class T>
__global__ void dropout_kernel(const T* x, T* y, std::size_t n, ImageLayout layout, compute_t<T> rate,
                               std::uint64_t seed, std::uint64_t stream, const StepGraphValues* values,
                               int layer_index) {
  if (values != nullptr) {
    seed = values->seed;
    stream = dropout_stream(values->step, layer_index);
  }
  for (std::size_t i = first_index(); i < n; i += grid_stride())
    y[i] = to_scalar<T>(static_cast<compute_t<T>>(x[i]) *
                        elementwise::dropout_scale(uniform01(seed, stream, layout.nchw_index(i)), rate));
}

// y = x * mask / (1 - rate) in training, y = x in eval. Also the backward pass (x = dy, y = dx).
template <class T>
void dropout_apply(BasicTensor<const T> x, BasicTensor<T> y, float rate, const StepInfo& step, int layer_index) {
  if (y.data == nullptr) return;
  Context& ctx = context_of(step);
  const cudaStream_t stream = ctx.stream();
  const std::size_t n = x.size();
  if (!step.training || rate == 0.0f) {
    if (y.data != x.data)
      STRATA_CUDA_CHECK(cudaMemcpyAsync(y.data, x.data, n * sizeof(T), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  launch("dropout_kernel", n, stream, &dropout_kernel<T>, x.data, y.data, n, ctx.layout(x.dims),
         static_cast<compute_t<T>>(rate), step.seed,
         dropout_stream(step.step, layer_index),
         ctx.graph_phase() == GraphPhase::recording ? static_cast<const StepGraphValues*>(ctx.device_values())
                                                    : nullptr,
         layer_index);
}

template <class T>
void dropout_forward(BasicTensor<const T> x, BasicTensor<T> y, float rate, const StepInfo& step, int layer_index) {
  dropout_apply(x, y, rate, step, layer_index);
}

template <class T>
void dropout_backward(BasicTensor<const T> dy, BasicTensor<T> dx, float rate, const StepInfo& step, int layer_index) {
  dropout_apply(dy, dx, rate, step, layer_index);
}

}  // namespace strata::cuda
