// strata/backend/cpu/residual.hpp: a residual block's two tensor passes on the CPU
// (layers/residual.hpp): the sum of two tensors, and a copy.
//
// Both are element-wise over the whole batch, so they do not depend on the layout.
#pragma once

#include <algorithm>
#include <cstddef>

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/tensor.hpp"

namespace strata::cpu {

// out = a + b (out may be a or b).
template <class T>
void add_tensors(BasicTensor<const T> a, BasicTensor<const T> b, BasicTensor<T> out, int threads) {
  const T* x = a.data;
  const T* y = b.data;
  T* sum = out.data;
  for_elements(a.size(), threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) sum[i] = x[i] + y[i];
  });
}

template <class T>
void copy_tensor(BasicTensor<const T> from, BasicTensor<T> to, int threads) {
  const T* source = from.data;
  T* target = to.data;
  for_elements(from.size(), threads, [&](std::size_t begin, std::size_t end) {
    std::copy(source + begin, source + end, target + begin);
  });
}

}  // namespace strata::cpu
