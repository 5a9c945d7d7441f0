// strata/backend/cuda/residual.cuh: a residual block's two tensor passes on the GPU
// (layers/residual.hpp): the sum of two tensors, and a copy.
//
// Both are element-wise over the whole batch, so they do not depend on the layout. The sum is
// computed in compute_t<T> (float for bfloat16 activations) and rounded once, as the CPU's
// float sum is; where the three tensors allow, a thread moves four values at a time
// (core/packed.hpp). The copy is a cudaMemcpyAsync on the model's stream (recorded in a CUDA
// graph like a kernel).
#pragma once

#include <cstddef>

#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"
#include "strata/core/packed.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cuda {

template <class T>
__device__ inline T sum_of(T a, T b) {
  using C = compute_t<T>;
  return to_scalar<T>(static_cast<C>(a) + static_cast<C>(b));
}

// out = a + b over n values; with Packed, n / 4 packs (n a multiple of 4, the three aligned).
template <bool Packed, class T>
__global__ void add_tensors_kernel(const T* a, const T* b, T* out, std::size_t n) {
  if constexpr (Packed) {
    const auto* x = reinterpret_cast<const Pack4<T>*>(a);
    const auto* y = reinterpret_cast<const Pack4<T>*>(b);
    auto* sum = reinterpret_cast<Pack4<T>*>(out);
    for (std::size_t i = first_index(); i < n / 4; i += grid_stride()) {
      const Pack4<T> u = x[i], v = y[i];
      Pack4<T> s;
      for (int j = 0; j < 4; ++j) s.v[j] = sum_of(u.v[j], v.v[j]);
      sum[i] = s;
    }
  } else {
    for (std::size_t i = first_index(); i < n; i += grid_stride()) out[i] = sum_of(a[i], b[i]);
  }
}

// out = a + b (out may be a or b).
template <class T>
void add_tensors(BasicTensor<const T> a, BasicTensor<const T> b, BasicTensor<T> out, const StepInfo& step) {
  const std::size_t n = a.size();
  const cudaStream_t stream = context_of(step).stream();
  if (packable(a.data, n) && packable(b.data, n) && packable(static_cast<const T*>(out.data), n))
    launch("add_tensors_kernel (a residual block's sum)", n / 4, stream, &add_tensors_kernel<true, T>, a.data, b.data,
           out.data, n);
  else
    launch("add_tensors_kernel (a residual block's sum)", n, stream, &add_tensors_kernel<false, T>, a.data, b.data,
           out.data, n);
}

template <class T>
void copy_tensor(BasicTensor<const T> from, BasicTensor<T> to, const StepInfo& step) {
  context_of(step).copy_on_device(to.data, from.data, from.size());
}

}  // namespace strata::cuda
