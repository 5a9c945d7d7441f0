// strata/backend/cpu/memory.hpp: host buffers for the CPU backend.
//
// One allocation per buffer, 64-byte aligned for AVX-512, zero-filled at construction so every
// page is faulted in once up front and never during a training step.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <algorithm>

namespace strata::cpu {

template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t count) : count_(count) {
    if (count == 0) return;
    constexpr std::size_t alignment = 64;
    const std::size_t bytes = (count * sizeof(T) + alignment - 1) / alignment * alignment;
    void* p = std::aligned_alloc(alignment, bytes);
    if (p == nullptr) throw std::bad_alloc();
    data_.reset(static_cast<T*>(p));
    std::fill(data_.get(), data_.get() + count, T(0));
  }

  T* data() const { return data_.get(); }
  std::size_t size() const { return count_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  std::size_t count_ = 0;
};

}  // namespace strata::cpu
