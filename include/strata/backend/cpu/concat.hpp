// strata/backend/cpu/concat.hpp: a concatenating skip block's two passes on the CPU
// (layers/concat.hpp): two batches joined along the channels, and a joined one split back.
//
// Channels first, as all of the CPU backend: an image of the joined tensor is the first
// tensor's image followed by the second's (core/layout.hpp's ChannelRuns).
#pragma once

#include <algorithm>
#include <cstddef>

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

// out = [first, second] along the channels.
template <class T>
void concat_channels(BasicTensor<const T> first, BasicTensor<const T> second, BasicTensor<T> out, int threads) {
  const ChannelRuns runs = channel_runs(out.batch, first.dims, second.dims, false);
  parallel_for(static_cast<int>(runs.rows), threads, [&](int begin, int end, int) {
    for (std::size_t r = static_cast<std::size_t>(begin); r < static_cast<std::size_t>(end); ++r) {
      T* row = out.data + r * runs.joined_run();
      std::copy_n(first.data + r * runs.first_run, runs.first_run, row);
      std::copy_n(second.data + r * runs.second_run, runs.second_run, row + runs.first_run);
    }
  });
}

// [first, second] = joined along the channels; a part whose data is null is not written.
template <class T>
void split_channels(BasicTensor<const T> joined, BasicTensor<T> first, BasicTensor<T> second, int threads) {
  const ChannelRuns runs = channel_runs(joined.batch, first.dims, second.dims, false);
  parallel_for(static_cast<int>(runs.rows), threads, [&](int begin, int end, int) {
    for (std::size_t r = static_cast<std::size_t>(begin); r < static_cast<std::size_t>(end); ++r) {
      const T* row = joined.data + r * runs.joined_run();
      if (first.data != nullptr) std::copy_n(row, runs.first_run, first.data + r * runs.first_run);
      if (second.data != nullptr) std::copy_n(row + runs.first_run, runs.second_run, second.data + r * runs.second_run);
    }
  });
}

}  // namespace strata::cpu
