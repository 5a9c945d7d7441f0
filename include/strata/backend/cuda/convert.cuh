// strata/backend/cuda/convert.cuh: float <-> bfloat16 copies on the GPU.
//
// A bfloat16 model's convolutions run cuDNN in bf16 on fp32 master weights: before a pass reads
// the weights they are rounded into a bf16 copy in scratch, and the bf16 weight gradient cuDNN
// writes is widened into the float gradient the optimizer reads. A batch copied from page-locked
// host memory is rounded (or widened) here too (Context::upload, download). The rounding is
// core/bfloat16.hpp's, the function the CPU tests check.
#pragma once

#include <cstddef>

#include "strata/backend/cuda/launch.cuh"
#include "strata/core/bfloat16.hpp"

namespace strata::cuda {

template <class To, class From>
__global__ void convert_kernel(const From* from, To* to, std::size_t n) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) to[i] = to_scalar<To>(static_cast<float>(from[i]));
}

// to[i] = from[i], rounded when To is bfloat16.
template <class To, class From>
void convert(const From* from, To* to, std::size_t n, cudaStream_t stream) {
  launch("convert_kernel (float <-> bf16: weights, weight gradients or a page-locked batch)", n, stream,
         &convert_kernel<To, From>, from, to, n);
}

}  // namespace strata::cuda
