// strata/optim/adam.hpp: Adam with bias correction.
//
// Defaults are Keras': lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7 (PyTorch's epsilon is 1e-8).
// Update (PyTorch's form): m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon).
// The moment estimates live in the Model (two floats per parameter); Adam keeps the
// hyperparameters and the step count t, so one Adam drives one model.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "strata/core/elementwise.hpp"

namespace strata {

struct Adam {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
  double weight_decay = 0.0;  // L2 penalty added to the gradient
  std::uint64_t steps = 0;    // updates applied so far

  static constexpr int state_per_parameter = 2;
  // Its only device work is Device::adam_update, which stages the step's values for a training step
  // replayed as a graph (core/step_graph.hpp): Model may record it. An optimizer of your own
  // without this runs eagerly even when graphs are on.
  static constexpr bool step_graphs = true;

  // Applies one update to n parameters; state holds [m (n values), v (n values)]. `run` is how
  // the backend runs it: a thread count, or the step's StepInfo (whose context the CUDA backend
  // needs), passed through to Device::adam_update.
  template <class Device, class T, class Run>
  void update(T* params, const T* grads, T* state, std::size_t n, const Run& run) {
    ++steps;
    const double t = static_cast<double>(steps);
    const elementwise::AdamStep s{lr, beta1, beta2, epsilon, 1.0 - std::pow(beta1, t), 1.0 - std::pow(beta2, t),
                                  weight_decay};
    Device::adam_update(params, grads, state, state + n, n, s, run);
  }
};

}  // namespace strata
