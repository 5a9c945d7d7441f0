// strata/backend/cuda/optimizer.cuh: optimizer updates over the flat parameter buffer on the GPU.
//
// One fused kernel per optimizer reads each parameter, its gradient and its state once and
// writes them back, running core/elementwise.hpp's update (the CPU backend's).
//
// In a training step recorded as a CUDA graph (step_graph.cuh) the same kernel runs with two
// device pointers: it takes its step (learning rate, Adam's bias corrections from the step
// count) from the values the host staged for this replay, and it does nothing when the step's
// verdict, computed on the device from the loss and the non-finite counts, rejects the step. Before
// a replay (GraphPhase::staging) the functions below only stage their step's values.
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/elementwise.hpp"
#include "strata/core/step_graph.hpp"

namespace strata::cuda {

// values, result: null when run eagerly; in a recorded step, the step's values and verdict.
template <class T>
__global__ void adam_kernel(T* params, const T* grads, T* m, T* v, std::size_t n, elementwise::AdamStep s,
                            const StepGraphValues* values, const StepGraphResult* result) {
  if (result != nullptr && result->verdict != static_cast<int>(StepVerdict::accepted)) return;
  const elementwise::AdamStep step = values != nullptr ? values->adam : s;
  for (std::size_t i = first_index(); i < n; i += grid_stride())
    elementwise::adam_update(params[i], grads[i], m[i], v[i], step);
}

template <class T>
__global__ void sgd_kernel(T* params, const T* grads, T* velocity, std::size_t n, elementwise::SgdStep s,
                           const StepGraphValues* values, const StepGraphResult* result) {
  if (result != nullptr && result->verdict != static_cast<int>(StepVerdict::accepted)) return;
  const elementwise::SgdStep step = values != nullptr ? values->sgd : s;
  for (std::size_t i = first_index(); i < n; i += grid_stride())
    elementwise::sgd_update(params[i], grads[i], velocity[i], step);
}

template <class T>
void adam_update(T* params, const T* grads, T* m, T* v, std::size_t n, const elementwise::AdamStep& s,
                 const StepInfo& step) {
  Context& ctx = context_of(step);
  if (ctx.graph_phase() != GraphPhase::none) ctx.staged_values().adam = s;
  if (ctx.graph_phase() == GraphPhase::staging) return;
  const bool recording = ctx.graph_phase() == GraphPhase::recording;
  launch("adam_kernel", n, ctx.stream(), &adam_kernel<T>, params, grads, m, v, n, s,
         recording ? static_cast<const StepGraphValues*>(ctx.device_values()) : nullptr,
         recording ? static_cast<const StepGraphResult*>(ctx.device_result()) : nullptr);
}

template <class T>
void sgd_update(T* params, const T* grads, T* velocity, std::size_t n, const elementwise::SgdStep& s,
                const StepInfo& step) {
  Context& ctx = context_of(step);
  if (ctx.graph_phase() != GraphPhase::none) ctx.staged_values().sgd = s;
  if (ctx.graph_phase() == GraphPhase::staging) return;
  const bool recording = ctx.graph_phase() == GraphPhase::recording;
  launch("sgd_kernel", n, ctx.stream(), &sgd_kernel<T>, params, grads, velocity, n, s,
         recording ? static_cast<const StepGraphValues*>(ctx.device_values()) : nullptr,
         recording ? static_cast<const StepGraphResult*>(ctx.device_result()) : nullptr);
}

}  // namespace strata::cuda
