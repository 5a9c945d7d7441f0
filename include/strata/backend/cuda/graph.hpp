// strata/backend/cuda/graph.hpp: an owning handle of an instantiated CUDA graph.
//
// Context keeps one per recorded training step (core/step_graph.hpp, step_graph.cuh); the
// handle frees its graph when the entry is dropped or the model goes.
#pragma once

#include <utility>

#include <cuda_runtime.h>

namespace strata::cuda {

class GraphExec {
 public:
  GraphExec() = default;
  explicit GraphExec(cudaGraphExec_t exec) : exec_(exec) {}
  ~GraphExec() {
    if (exec_ != nullptr) (void)cudaGraphExecDestroy(exec_);  // no throwing from a destructor
  }
  GraphExec(GraphExec&& other) noexcept : exec_(std::exchange(other.exec_, nullptr)) {}
  GraphExec& operator=(GraphExec&& other) noexcept {
    std::swap(exec_, other.exec_);
    return *this;
  }
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;

  cudaGraphExec_t get() const { return exec_; }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace strata::cuda
