// strata/backend/cuda/concat.cuh: a concatenating skip block's two passes on the GPU
// (layers/concat.hpp): two batches joined along the channels, and a joined one split back.
//
// Both layouts are runs of contiguous values (core/layout.hpp's ChannelRuns: an image per row
// channels first, a pixel per row channels last), so each tensor moves as one strided copy on the
// model's stream. Rows of 1 KiB or more (channels first, but for tiny planes) go to
// cudaMemcpy2DAsync; narrower ones (channels last: a pixel's channels, 262,144 rows of a few
// bytes at batch 64 and 64 x 64, where a 2-D copy is likely to crawl) to copy_runs_kernel, a
// thread per value or per four (core/packed.hpp's RunCopy). Where the switch should sit has not
// been timed on a GPU; 1 KiB is a guess. No arithmetic, so bfloat16 values move unchanged.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/core/layout.hpp"
#include "strata/core/packed.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cuda {

// The loop counts in size_t so that i + grid_stride() cannot wrap past 2^32 items; each item's
// own index math is 32-bit (RunCopy::copy_item).
template <bool Packed, class T>
__global__ void copy_runs_kernel(RunCopy<T> copy, unsigned items, unsigned per_row) {
  for (std::size_t i = first_index(); i < items; i += grid_stride())
    copy.template copy_item<Packed>(static_cast<unsigned>(i), per_row);
}

// Rows at least this wide (and copies of 2^32 items or more) go to cudaMemcpy2DAsync.
inline constexpr std::size_t kWideRunBytes = 1024;

// `rows` runs of `run` values from `from` (rows `from_pitch` values apart) to `to` (`to_pitch`);
// `what` names the copy (and both calls it may be) in an error.
template <class T>
void copy_runs(T* to, std::size_t to_pitch, const T* from, std::size_t from_pitch, std::size_t run, std::size_t rows,
               cudaStream_t stream, const char* what) {
  if (rows == 0 || run == 0) return;
  const RunCopy<T> copy{to, to_pitch, from, from_pitch, run, rows};
  if (run * sizeof(T) < kWideRunBytes && copy.fits32()) {
    const auto items = static_cast<unsigned>(copy.items()), per_row = static_cast<unsigned>(copy.items_per_row());
    if (copy.packed()) launch(what, items, stream, &copy_runs_kernel<true, T>, copy, items, per_row);
    else launch(what, items, stream, &copy_runs_kernel<false, T>, copy, items, per_row);
    return;
  }
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
            "copy_runs_kernel or cudaMemcpy2DAsync (a Concat block joining its input's channels)");
  copy_runs(out.data + r.first_run, r.joined_run(), second.data, r.second_run, r.second_run, r.rows, ctx.stream(),
            "copy_runs_kernel or cudaMemcpy2DAsync (a Concat block joining its output's channels)");
}

// [first, second] = joined along the channels; a part whose data is null is not written.
template <class T>
void split_channels(BasicTensor<const T> joined, BasicTensor<T> first, BasicTensor<T> second, const StepInfo& step) {
  Context& ctx = context_of(step);
  const ChannelRuns r = channel_runs(joined.batch, first.dims, second.dims, ctx.channels_last());
  if (first.data != nullptr)
    copy_runs(first.data, r.first_run, joined.data, r.joined_run(), r.first_run, r.rows, ctx.stream(),
              "copy_runs_kernel or cudaMemcpy2DAsync (a Concat block's gradient for its input)");
  if (second.data != nullptr)
    copy_runs(second.data, r.second_run, joined.data + r.first_run, r.joined_run(), r.second_run, r.rows,
              ctx.stream(), "copy_runs_kernel or cudaMemcpy2DAsync (a Concat block's gradient for its layers)");
}

}  // namespace strata::cuda
