// strata/backend/cpu/cpu.hpp: strata::Cpu, the CPU backend (Eigen GEMM, OpenMP threads).
//
// A backend is a type whose static members the layers call: Device::conv2d_forward(...) and so
// on. Each member here forwards to the plain function template of the same name in strata::cpu,
// where the kernels live, one header per kind of operation.
#pragma once

#include <algorithm>
#include <cstddef>

#include "strata/backend/cpu/activation.hpp"
#include "strata/backend/cpu/batch_norm.hpp"
#include "strata/backend/cpu/conv.hpp"
#include "strata/backend/cpu/dropout.hpp"
#include "strata/backend/cpu/loss.hpp"
#include "strata/backend/cpu/max_pool.hpp"
#include "strata/backend/cpu/memory.hpp"
#include "strata/backend/cpu/optimizer.hpp"
#include "strata/backend/cpu/parallel.hpp"
#include "strata/backend/cpu/upsample.hpp"

namespace strata {

struct Cpu {
  static constexpr const char* name = "cpu";

  template <class T>
  using Buffer = cpu::Buffer<T>;

  static int default_threads() { return cpu::default_threads(); }

  // Host <-> backend memory: plain copies here.
  template <class T>
  static void copy_to_device(T* device, const T* host, std::size_t n) { std::copy(host, host + n, device); }
  template <class T>
  static void copy_to_host(T* host, const T* device, std::size_t n) { std::copy(device, device + n, host); }

  // Layers.
  static constexpr auto conv2d_scratch_floats = [](auto&&... a) { return cpu::conv2d_scratch_floats(a...); };
  static constexpr auto conv2d_forward = [](auto&&... a) { cpu::conv2d_forward(a...); };
  static constexpr auto conv2d_backward = [](auto&&... a) { cpu::conv2d_backward(a...); };
  static constexpr auto max_pool_forward = [](auto&&... a) { cpu::max_pool_forward(a...); };
  static constexpr auto max_pool_backward = [](auto&&... a) { cpu::max_pool_backward(a...); };
  static constexpr auto upsample_forward = [](auto&&... a) { cpu::upsample_forward(a...); };
  static constexpr auto upsample_backward = [](auto&&... a) { cpu::upsample_backward(a...); };
  static constexpr auto activation_forward = [](auto&&... a) { cpu::activation_forward(a...); };
  static constexpr auto activation_backward = [](auto&&... a) { cpu::activation_backward(a...); };
  static constexpr auto batch_norm_forward = [](auto&&... a) { cpu::batch_norm_forward(a...); };
  static constexpr auto batch_norm_backward = [](auto&&... a) { cpu::batch_norm_backward(a...); };
  static constexpr auto dropout_forward = [](auto&&... a) { cpu::dropout_forward(a...); };
  static constexpr auto dropout_backward = [](auto&&... a) { cpu::dropout_backward(a...); };

  // Losses and optimizers.
  static constexpr auto loss_forward_backward = [](auto&&... a) { return cpu::loss_forward_backward(a...); };
  static constexpr auto adam_update = [](auto&&... a) { cpu::adam_update(a...); };
  static constexpr auto sgd_update = [](auto&&... a) { cpu::sgd_update(a...); };
};

}  // namespace strata
