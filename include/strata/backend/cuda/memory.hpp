// strata/backend/cuda/memory.hpp: device buffers and pinned host buffers for the CUDA backend.
//
// Buffer<T> is one cudaMalloc (not managed memory), zero-filled and finished before the
// constructor returns, so a Model's memory is all claimed and ready at construction and a
// training step allocates nothing. A failed allocation throws DeviceOutOfMemory with the size
// asked for and the memory free. PinnedBuffer<T> is page-locked host memory (cudaMallocHost),
// from which copies to the device run asynchronously on a stream.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <cuda_runtime.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/core/device.hpp"

namespace strata::cuda {

// Free and total device memory, in bytes.
inline std::size_t free_device_memory() {
  std::size_t free = 0, total = 0;
  STRATA_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t count) : count_(count) {
    if (count == 0) return;
    const std::size_t bytes = count * sizeof(T);
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // an allocation failure is not sticky: clear it and report
      throw DeviceOutOfMemory("cudaMalloc(" + DeviceOutOfMemory::bytes_text(bytes) + ")", bytes, free_device_memory(),
                              "lower max_batch, or free GPU memory held by other processes (nvidia-smi)");
    }
    check(status, "cudaMalloc");
    data_.reset(static_cast<T*>(p));
    STRATA_CUDA_CHECK(cudaMemset(p, 0, bytes));
    STRATA_CUDA_CHECK(cudaDeviceSynchronize());  // whatever stream the model uses sees zeros
  }

  T* data() const { return data_.get(); }
  std::size_t size() const { return count_; }

 private:
  struct Free {
    void operator()(T* p) const { (void)cudaFree(p); }  // no throwing from a destructor
  };
  std::unique_ptr<T, Free> data_;
  std::size_t count_ = 0;
};

template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t count) : count_(count) {
    if (count == 0) return;
    void* p = nullptr;
    STRATA_CUDA_CHECK(cudaMallocHost(&p, count * sizeof(T)));
    data_.reset(static_cast<T*>(p));
  }

  T* data() const { return data_.get(); }
  std::size_t size() const { return count_; }

 private:
  struct Free {
    void operator()(T* p) const { (void)cudaFreeHost(p); }
  };
  std::unique_ptr<T, Free> data_;
  std::size_t count_ = 0;
};

}  // namespace strata::cuda
