// strata/backend/cpu/cpu.hpp: strata::Cpu, the CPU backend (Eigen GEMM, OpenMP threads).
//
// A backend is a type whose static members the layers call: Device::conv2d_forward(...) and so
// on. Each member here forwards to the plain function template of the same name in strata::cpu,
// where the kernels live, one header per kind of operation. Layers hand every call the step's
// StepInfo; the CPU kernels need only its thread count (threads_of), and the CPU backend keeps
// no per-model state (its Context is empty).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include "strata/backend/cpu/activation.hpp"
#include "strata/backend/cpu/batch_norm.hpp"
#include "strata/backend/cpu/blank.hpp"
#include "strata/backend/cpu/concat.hpp"
#include "strata/backend/cpu/conv.hpp"
#include "strata/backend/cpu/dropout.hpp"
#include "strata/backend/cpu/finite.hpp"
#include "strata/backend/cpu/loss.hpp"
#include "strata/backend/cpu/max_pool.hpp"
#include "strata/backend/cpu/memory.hpp"
#include "strata/backend/cpu/optimizer.hpp"
#include "strata/backend/cpu/parallel.hpp"
#include "strata/backend/cpu/residual.hpp"
#include "strata/backend/cpu/upsample.hpp"
#include "strata/core/device.hpp"
#include "strata/core/layer.hpp"
#include "strata/core/output_sums.hpp"

namespace strata {

namespace cpu {
// The thread count in a StepInfo; every other argument passes through unchanged.
inline int threads_of(const StepInfo& step) { return step.threads; }
template <class A>
  requires(!std::same_as<std::remove_cvref_t<A>, StepInfo>)
constexpr A&& threads_of(A&& a) {
  return static_cast<A&&>(a);
}
}  // namespace cpu

struct Cpu {
  static constexpr const char* name = "cpu";

  template <class T>
  using Buffer = cpu::Buffer<T>;

  // No per-model state on the CPU.
  struct Context : DeviceContext {
    void reserve(const ModelMemory&) {}
  };

  static int default_threads() { return cpu::default_threads(); }
  // Model's eval-mode forward runs this many images at a time through every layer, one per
  // thread: an image's activations (512 KiB a 32-channel 64 x 64 layer) then stay in its core's
  // L2 from one layer to the next, where a whole batch went out to memory between layers (v1 and
  // v2 inference +12-20% on an Intel Xeon; bench/RESULTS.md, 2026-11-30, sixth session).
  static int inference_images_at_once(int threads) { return threads; }

  // Host <-> backend memory: plain copies here. The overloads taking the model's Context are the
  // ones Model uses for batches (the CUDA backend stages those through pinned memory).
  template <class T>
  static void copy_to_device(T* device, const T* host, std::size_t n) { std::copy(host, host + n, device); }
  template <class T>
  static void copy_to_host(T* host, const T* device, std::size_t n) { std::copy(device, device + n, host); }
  // A batch of images (the host's layout, NCHW, is the CPU backend's).
  template <class T>
  static void copy_batch_to_device(BasicTensor<T> to, const T* host, Context&) {
    copy_to_device(to.data, host, to.size());
  }
  template <class T>
  static void copy_batch_to_host(T* host, BasicTensor<const T> from, Context&) {
    copy_to_host(host, from.data, from.size());
  }
  template <class T>
  static void copy_within_device(T* to, const T* from, std::size_t n, Context&) { std::copy(from, from + n, to); }
  // A rectangle of every plane of a batch set to one value (Model's inpainting train_step).
  template <class T>
  static void blank_rectangle(T* images, int batch, Dims dims, const BlankRectangle& r, Context&) {
    cpu::blank_rectangle(images, batch, dims, r);
  }

  // Layers.
  static constexpr auto conv2d_scratch_floats = [](auto&&... a) { return cpu::conv2d_scratch_floats(a...); };
  static constexpr auto conv2d_forward = [](auto&&... a) { cpu::conv2d_forward(cpu::threads_of(a)...); };
  // Convolution and a following ReLU in one pass (Model fuses such pairs on backends that have it).
  static constexpr auto conv2d_forward_relu = [](auto&&... a) { cpu::conv2d_forward(cpu::threads_of(a)..., true); };
  static constexpr auto conv2d_backward = [](auto&&... a) { cpu::conv2d_backward(cpu::threads_of(a)...); };
  static constexpr auto conv2d_backward_relu = [](auto&&... a) { cpu::conv2d_backward_relu(cpu::threads_of(a)...); };
  static constexpr auto max_pool_forward = [](auto&&... a) { cpu::max_pool_forward(cpu::threads_of(a)...); };
  static constexpr auto max_pool_backward = [](auto&&... a) { cpu::max_pool_backward(cpu::threads_of(a)...); };
  static constexpr auto upsample_forward = [](auto&&... a) { cpu::upsample_forward(cpu::threads_of(a)...); };
  static constexpr auto upsample_backward = [](auto&&... a) { cpu::upsample_backward(cpu::threads_of(a)...); };
  static constexpr auto activation_forward = [](auto&&... a) { cpu::activation_forward(cpu::threads_of(a)...); };
  static constexpr auto activation_backward = [](auto&&... a) { cpu::activation_backward(cpu::threads_of(a)...); };
  static constexpr auto batch_norm_forward = [](auto&&... a) { cpu::batch_norm_forward(cpu::threads_of(a)...); };
  static constexpr auto batch_norm_backward = [](auto&&... a) { cpu::batch_norm_backward(cpu::threads_of(a)...); };
  static constexpr auto dropout_forward = [](auto&&... a) { cpu::dropout_forward(a...); };    // needs the whole step
  static constexpr auto dropout_backward = [](auto&&... a) { cpu::dropout_backward(a...); };  // needs the whole step
  static constexpr auto add_tensors = [](auto&&... a) { cpu::add_tensors(cpu::threads_of(a)...); };
  static constexpr auto copy_tensor = [](auto&&... a) { cpu::copy_tensor(cpu::threads_of(a)...); };
  static constexpr auto concat_channels = [](auto&&... a) { cpu::concat_channels(cpu::threads_of(a)...); };
  static constexpr auto split_channels = [](auto&&... a) { cpu::split_channels(cpu::threads_of(a)...); };

  // Losses and optimizers.
  static constexpr auto loss_forward_backward = [](auto&&... a) {
    return cpu::loss_forward_backward(cpu::threads_of(a)...);
  };
  static constexpr auto adam_update = [](auto&&... a) { cpu::adam_update(cpu::threads_of(a)...); };
  static constexpr auto sgd_update = [](auto&&... a) { cpu::sgd_update(cpu::threads_of(a)...); };

  // Checks.
  static constexpr auto count_non_finite = [](auto&&... a) { return cpu::count_non_finite(cpu::threads_of(a)...); };

  // Per image: binary-accuracy matches and the error over a rectangle (Model::output_sums).
  template <class T>
  static void output_sums(BasicTensor<const T> output, BasicTensor<const T> target, const BlankRectangle& r,
                          OutputSums* out, Context&) {
    host_output_sums(output, target, r, out);
  }
};

}  // namespace strata
