// strata/backend/cuda/concat.cuh: a concatenating skip block's two passes on the GPU
// (layers/concat.hpp): two batches joined along the channels, and a joined one split back.
//
// Both layouts are runs of contiguous values (core/layout.hpp's ChannelRuns: an image per row
// channels first, a pixel per row channels last), so each tensor moves as one strided copy,
// cudaMemcpy2DAsync on the model's stream (recorded in a CUDA graph like a kernel); no
// arithmetic, so bfloat16 values move unchanged.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/context.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cuda {

// `rows` runs of `run` values from `from` (rows `from_pitch` values apart) to `to` (`to_pitch`).
template <class T>
void copy_runs(T* to, std::size_t to_pitch, const T* from, std::size_t from_pitch, std::size_t run, std::size_t rows,
               cudaStream_t stream, const char* what) {
  if (rows == 0 || run == 0) return;
  check(cudaMemcpy2DAsync(to, to_pitch * sizeof(T), from, from_pitch * sizeof(T), run * sizeof(T), rows,
                          cudaMemcpyDeviceToDevice, stream),
        what);
}

// out = [first, second] along the channels.
template <class T>
void concat_channels(BasicTensor<const T> first, BasicTensor<const T> second, BasicTensor<T> out,
                     const StepInfo& step) {
  Context& ctx = context_of(step);
  const ChannelRuns r = channel_runs(out.batch, first.dims, second.dims, ctx.channels_last());
  copy_runs(out.data, r.joined_run(), first.data, r.first_run, r.first_run, r.rows, ctx.stream(),
            "cudaMemcpy2DAsync (a Concat block joining its input's channels)");
  copy_runs(out.data + r.first_run, r.joined_run(), second.data, r.second_run, r.second_run, r.rows, ctx.stream(),
            "cudaMemcpy2DAsync (a Concat block joining its output's channels)");
}

// [first, second] = joined along the channels; a part whose data is null is not written.
template <class T>
void split_channels(BasicTensor<const T> joined, BasicTensor<T> first, BasicTensor<T> second, const StepInfo& step) {
  Context& ctx = context_of(step);
  const ChannelRuns r = channel_runs(joined.batch, first.dims, second.dims, ctx.channels_last());
  if (first.data != nullptr)
    copy_runs(first.data, r.first_run, joined.data, r.joined_run(), r.first_run, r.rows, ctx.stream(),
              "cudaMemcpy2DAsync (a Concat block's gradient for its input)");
  if (second.data != nullptr)
    copy_runs(second.data, r.second_run, joined.data + r.first_run, r.joined_run(), r.second_run, r.rows,
              ctx.stream(), "cudaMemcpy2DAsync (a Concat block's gradient for its layers)");
}

}  // namespace strata::cuda
