// strata/backend/cuda/optimizer.cuh: optimizer updates over the flat parameter buffer on the GPU.
//
// One fused kernel per optimizer reads each parameter, its gradient and its state once and
// writes them back, running core/elementwise.hpp's update (the CPU backend's).
#pragma once

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/elementwise.hpp"

namespace strata::cuda {

template <class T>
__global__ void adam_kernel(T* params, const T* grads, T* m, T* v, std::size_t n, elementwise::AdamStep s) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) elementwise::adam_update(params[i], grads[i], m[i], v[i], s);
}

template <class T>
__global__ void sgd_kernel(T* params, const T* grads, T* velocity, std::size_t n, elementwise::SgdStep s) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) elementwise::sgd_update(params[i], grads[i], velocity[i], s);
}

template <class T>
void adam_update(T* params, const T* grads, T* m, T* v, std::size_t n, const elementwise::AdamStep& s,
                 const StepInfo& step) {
  launch("adam_kernel", n, context_of(step).stream(), &adam_kernel<T>, params, grads, m, v, n, s);
}

template <class T>
void sgd_update(T* params, const T* grads, T* velocity, std::size_t n, const elementwise::SgdStep& s,
                const StepInfo& step) {
  launch("sgd_kernel", n, context_of(step).stream(), &sgd_kernel<T>, params, grads, velocity, n, s);
}

}  // namespace strata::cuda
