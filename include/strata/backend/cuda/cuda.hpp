// strata/backend/cuda/cuda.hpp: strata::Cuda, the NVIDIA GPU backend (cuDNN and CUDA kernels).
//
// The same static members as strata::Cpu (backend/cpu/cpu.hpp), each forwarding to the function
// of the same name in strata::cuda. Every call runs on the stream of the model's Context, which
// the Model hands it through StepInfo, so a training step queues its work without waiting,
// except for reading the loss (Model checks it is finite before updating weights), or, with
// Context::set_step_graphs(true), is recorded once as a CUDA graph and replayed with one wait.
// Tensors are device memory (cudaMalloc): float, or for Model<Net, Cuda, bfloat16> bf16
// activations and gradients with float parameters (core/bfloat16.hpp; conv.hpp says how the
// convolutions run).
//
// Copies: copy_to_device / copy_to_host (weights, checkpoints, tests) wait for the whole device
// and copy synchronously, so they are always safe; the Model's batch copies
// (copy_batch_to_device / copy_batch_to_host) take its Context, go through pinned staging on its
// stream (or straight from page-locked memory) and put the images in the model's layout.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include <cuda_runtime.h>

#include "strata/backend/cuda/activation.cuh"
#include "strata/backend/cuda/batch_norm.cuh"
#include "strata/backend/cuda/blank.cuh"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/concat.cuh"
#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/conv.hpp"
#include "strata/backend/cuda/dropout.cuh"
#include "strata/backend/cuda/finite.cuh"
#include "strata/backend/cuda/loss.cuh"
#include "strata/backend/cuda/max_pool.cuh"
#include "strata/backend/cuda/memory.hpp"
#include "strata/backend/cuda/optimizer.cuh"
#include "strata/backend/cuda/output_sums.cuh"
#include "strata/backend/cuda/precision.hpp"
#include "strata/backend/cuda/residual.cuh"
#include "strata/backend/cuda/step_graph.cuh"
#include "strata/backend/cuda/upsample.cuh"

namespace strata {

struct Cuda {
  static constexpr const char* name = "cuda";

  template <class T>
  using Buffer = cuda::Buffer<T>;
  using Context = cuda::Context;

  // Model<Net, Cuda, bfloat16> is allowed: bf16 activations, fp32 master weights.
  static constexpr bool bfloat16_activations = true;

  // The GPU's parallelism is not counted in host threads.
  static int default_threads() { return 1; }

  template <class T>
  static void copy_to_device(T* device, const T* host, std::size_t n) {
    STRATA_CUDA_CHECK(cudaDeviceSynchronize());
    STRATA_CUDA_CHECK(cudaMemcpy(device, host, n * sizeof(T), cudaMemcpyHostToDevice));
  }
  template <class T>
  static void copy_to_host(T* host, const T* device, std::size_t n) {
    STRATA_CUDA_CHECK(cudaDeviceSynchronize());
    STRATA_CUDA_CHECK(cudaMemcpy(host, device, n * sizeof(T), cudaMemcpyDeviceToHost));
  }
  // Page-locks host memory until the returned handle is destroyed (cudaHostRegister), so that
  // the Model's copies of batches in it skip the pinned staging (Context::upload). Where the
  // system refuses, the handle is empty and copies go through the staging as before.
  static std::shared_ptr<void> lock_host_memory(std::span<float> memory) {
    if (memory.empty()) return nullptr;
    if (cudaHostRegister(memory.data(), memory.size_bytes(), cudaHostRegisterDefault) != cudaSuccess) {
      (void)cudaGetLastError();  // not sticky: clear it, so that no later check reports it
      return nullptr;
    }
    return std::shared_ptr<void>(memory.data(), [](void* p) {
      // A copy from this memory may still be on its way (Model::upload_ahead of a batch that a
      // stopped loop never trained): wait for the device's copies before letting the memory go.
      if (cudaDeviceSynchronize() != cudaSuccess) (void)cudaGetLastError();
      if (cudaHostUnregister(p) != cudaSuccess) (void)cudaGetLastError();  // nobody to tell; keep later checks clean
    });
  }

  // A batch of images: NCHW float host data to and from a model's float or bfloat16 buffers
  // (rounded on the way up), in the model's layout (Context::set_channels_last).
  template <class T, class H>
  static void copy_batch_to_device(BasicTensor<T> to, const H* host, Context& context) {
    context.upload_batch(to, host);
  }
  template <class H, class T>
  static void copy_batch_to_host(H* host, BasicTensor<const T> from, Context& context) {
    context.download_batch(host, from);
  }
  // Starts sending the next batch, in page-locked host memory, to the device while the model
  // computes (Context::upload_ahead); false, doing nothing, where it cannot.
  static bool upload_ahead(const float* host, std::size_t n, Context& context) { return context.upload_ahead(host, n); }
  template <class T>
  static void copy_within_device(T* to, const T* from, std::size_t n, Context& context) {
    context.copy_on_device(to, from, n);
  }
  // A rectangle of every plane of a batch set to one value (Model's inpainting train_step).
  template <class T>
  static void blank_rectangle(T* images, int batch, Dims dims, const BlankRectangle& r, Context& context) {
    cuda::blank_rectangle(images, batch, dims, r, context.channels_last(), context.stream());
  }

  // Layers.
  static constexpr auto conv2d_scratch_floats = [](auto&&... a) { return cuda::conv2d_scratch_floats(a...); };
  static constexpr auto conv2d_forward = [](auto&&... a) { cuda::conv2d_forward(a...); };
  // Convolution and a following ReLU in one pass (Model fuses such pairs on backends that have it).
  static constexpr auto conv2d_forward_relu = [](auto&&... a) { cuda::conv2d_forward_relu(a...); };
  static constexpr auto conv2d_backward = [](auto&&... a) { cuda::conv2d_backward(a...); };
  // Backward of that pair: the gradient is masked by the ReLU in the pass that sums the bias's.
  static constexpr auto conv2d_backward_relu = [](auto&&... a) { cuda::conv2d_backward_relu(a...); };
  static constexpr auto max_pool_forward = [](auto&&... a) { cuda::max_pool_forward(a...); };
  static constexpr auto max_pool_backward = [](auto&&... a) { cuda::max_pool_backward(a...); };
  static constexpr auto upsample_forward = [](auto&&... a) { cuda::upsample_forward(a...); };
  static constexpr auto upsample_backward = [](auto&&... a) { cuda::upsample_backward(a...); };
  static constexpr auto activation_forward = [](auto&&... a) { cuda::activation_forward(a...); };
  static constexpr auto activation_backward = [](auto&&... a) { cuda::activation_backward(a...); };
  static constexpr auto batch_norm_forward = [](auto&&... a) { cuda::batch_norm_forward(a...); };
  static constexpr auto batch_norm_backward = [](auto&&... a) { cuda::batch_norm_backward(a...); };
  static constexpr auto dropout_forward = [](auto&&... a) { cuda::dropout_forward(a...); };
  static constexpr auto dropout_backward = [](auto&&... a) { cuda::dropout_backward(a...); };
  static constexpr auto add_tensors = [](auto&&... a) { cuda::add_tensors(a...); };
  static constexpr auto copy_tensor = [](auto&&... a) { cuda::copy_tensor(a...); };
  static constexpr auto concat_channels = [](auto&&... a) { cuda::concat_channels(a...); };
  static constexpr auto split_channels = [](auto&&... a) { cuda::split_channels(a...); };

  // Losses and optimizers.
  static constexpr auto loss_forward_backward = [](auto&&... a) { return cuda::loss_forward_backward(a...); };
  static constexpr auto adam_update = [](auto&&... a) { cuda::adam_update(a...); };
  static constexpr auto sgd_update = [](auto&&... a) { cuda::sgd_update(a...); };

  // Checks.
  static constexpr auto count_non_finite = [](auto&&... a) { return cuda::count_non_finite(a...); };

  // Per image: binary-accuracy matches and the error over a rectangle (Model::output_sums).
  static constexpr auto output_sums = [](auto&&... a) { cuda::output_sums(a...); };

  // Training steps recorded as CUDA graphs and replayed (core/step_graph.hpp, step_graph.cuh):
  // Model::train_step uses these when Context::set_step_graphs(true).
  static constexpr bool step_graphs = true;
  static constexpr auto record_non_finite = [](auto&&... a) { cuda::record_non_finite(a...); };
  static constexpr auto record_verdict = [](auto&&... a) { cuda::record_verdict(a...); };
  static constexpr auto capture_step = [](auto&&... a) { return cuda::capture_step(a...); };
  static constexpr auto replay_step = [](auto&&... a) { return cuda::replay_step(a...); };
};

}  // namespace strata
