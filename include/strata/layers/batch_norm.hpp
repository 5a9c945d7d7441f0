// strata/layers/batch_norm.hpp: batch normalization per channel (Keras' BatchNormalization).
//
// BatchNorm
//   input   C x H x W -> output C x H x W
//   params  weight (gamma) [C], ones; bias (beta) [C], zeros
//   buffers running_mean [C], zeros; running_var [C], ones
//   training: normalises with the batch's mean and biased variance over N x H x W, then
//             running = momentum * running + (1 - momentum) * batch statistic, with the
//             unbiased variance for running_var (as PyTorch does)
//   eval:     normalises with the running statistics; deterministic
//   Keras' defaults: momentum 0.99, epsilon 1e-3 (PyTorch's momentum=0.01, eps=1e-3 is the same).
//   requires a batch of at least 2 in training (one sample's statistics over H x W still work,
//   but a 1x1 image alone has no variance)
#pragma once

#include "strata/core/layer.hpp"

namespace strata {

struct BatchNormConfig {
  double momentum = 0.99;
  double epsilon = 1e-3;
};

struct BatchNorm : LayerDefaults {
  static constexpr const char* kind = "batch_norm";
  static constexpr BatchNormConfig config{};

  static constexpr CompileText name() { return "BatchNorm"; }

  static constexpr int parameter_tensors = 2;
  static constexpr TensorInfo parameter(int i, Dims in) {
    if (i == 0) return {"weight", 1, {in.c, 0, 0, 0}, InitRole::ones, 0, 0};
    return {"bias", 1, {in.c, 0, 0, 0}, InitRole::zeros, 0, 0};
  }

  static constexpr int buffer_tensors = 2;
  static constexpr TensorInfo buffer(int i, Dims in) {
    if (i == 0) return {"running_mean", 1, {in.c, 0, 0, 0}, InitRole::zeros, 0, 0};
    return {"running_var", 1, {in.c, 0, 0, 0}, InitRole::ones, 0, 0};
  }

  // The mean and 1/sqrt(var + eps) used in forward, per channel.
  static constexpr std::size_t saved_floats(Dims in, int) { return 2 * static_cast<std::size_t>(in.c); }

  static constexpr double forward_flops(Dims in) { return 4.0 * static_cast<double>(in.size()); }
  static constexpr double backward_flops(Dims in, bool) { return 8.0 * static_cast<double>(in.size()); }

  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    const int c = a.x.dims.c;
    Device::batch_norm_forward(a.x, a.y, a.params, a.params + c, a.state, a.state + c, a.saved,
                               a.saved + c, config.momentum, config.epsilon, a.step.training, a.step);
  }

  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    const int c = a.x.dims.c;
    Device::batch_norm_backward(a.x, a.dy, a.dx, a.params, a.param_grads, a.param_grads + c,
                                a.saved, a.saved + c, a.step.training, a.step);
  }
};

}  // namespace strata
