// strata/optim/sgd.hpp: stochastic gradient descent with momentum and Nesterov momentum.
//
// Update (PyTorch's form): v = momentum v + g; p -= lr * (nesterov ? g + momentum v : v).
// With momentum 0 it is plain SGD. The velocity lives in the Model (one float per parameter).
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/core/elementwise.hpp"

namespace strata {

struct Sgd {
  double lr = 1e-2;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  std::uint64_t steps = 0;

  static constexpr int state_per_parameter = 1;
  // Its only device work is Device::sgd_update, which stages the step's values for a training step
  // replayed as a graph (core/step_graph.hpp): Model may record it. An optimizer of your own
  // without this runs eagerly even when graphs are on.
  static constexpr bool step_graphs = true;

  // `run`: a thread count or the step's StepInfo, as for Adam::update.
  template <class Device, class T, class Run>
  void update(T* params, const T* grads, T* state, std::size_t n, const Run& run) {
    ++steps;
    Device::sgd_update(params, grads, state, n, elementwise::SgdStep{lr, momentum, weight_decay, nesterov}, run);
  }
};

}  // namespace strata
