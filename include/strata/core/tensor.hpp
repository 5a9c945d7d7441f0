// strata/core/tensor.hpp: non-owning views of a batch of C x H x W images (NCHW, contiguous).
//
// A view carries a run-time batch and a Dims; the memory belongs to a Model (host memory for
// strata::Cpu, device memory for strata::Cuda). Kernels take views and never own data. The
// scalar is a parameter so the same kernels run in double for the gradient tests.
#pragma once

#include <cstddef>
#include <type_traits>

#include "strata/core/shape.hpp"

namespace strata {

template <class T>
struct BasicTensor {
  T* data = nullptr;
  int batch = 0;
  Dims dims{};

  constexpr BasicTensor() = default;
  constexpr BasicTensor(T* d, int b, Dims s) : data(d), batch(b), dims(s) {}
  // A mutable view converts to a read-only one.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  constexpr BasicTensor(const BasicTensor<U>& other)  // NOLINT(google-explicit-constructor)
      : data(other.data), batch(other.batch), dims(other.dims) {}

  constexpr std::size_t sample_size() const { return dims.size(); }
  constexpr std::size_t size() const { return static_cast<std::size_t>(batch) * dims.size(); }
  constexpr T* sample(int n) const { return data + static_cast<std::size_t>(n) * dims.size(); }
};

using TensorView = BasicTensor<float>;
using ConstTensorView = BasicTensor<const float>;

}  // namespace strata
