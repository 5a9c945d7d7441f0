// tests/support/gradient_check.hpp: finite-difference gradient checks of whole networks.
//
// check_gradients<Net>() builds Model<Net, Cpu, double>, draws random inputs, parameters and an
// upstream gradient r, and compares the backward pass with central differences of
// L = sum(r * forward(x)) for the input and every parameter (a fixed random subset when there are
// many). Then it runs the same weights in float and checks output and gradients against double.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <strata/strata.hpp>

namespace strata::testing {

struct GradientCheckOptions {
  int batch = 2;
  std::uint64_t seed = 7;
  bool training = true;
  double input_low = -1.0;
  double input_high = 1.0;
  double parameter_scale = 0.5;   // parameters drawn from U(-scale, scale); BatchNorm's gamma near 1
  std::size_t max_checked = 400;  // elements checked per tensor
  double step = 1e-5;
  double tolerance = 2e-6;        // |analytic - numeric| <= tolerance * max(1, |numeric|)
  double float_tolerance = 2e-4;  // float vs double, relative to each tensor's largest value
  int threads = 2;
};

inline std::vector<std::size_t> chosen_indices(std::size_t size, std::size_t limit, std::uint64_t seed) {
  std::vector<std::size_t> indices;
  if (size <= limit) {
    for (std::size_t i = 0; i < size; ++i) indices.push_back(i);
    return indices;
  }
  SplitMix rng(seed);
  for (std::size_t i = 0; i < limit; ++i) indices.push_back(rng.next() % size);
  return indices;
}

// Largest |a - b| over the largest |b| (at least 1e-3 so near-zero tensors are compared absolutely).
template <class A, class B>
double relative_difference(const A& a, const B& b, std::size_t n) {
  double diff = 0.0;
  double scale = 1e-3;
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

template <class Net>
void check_gradients(const GradientCheckOptions& o = {}) {
  using DoubleModel = Model<Net, Cpu, double>;
  DoubleModel model(o.batch, o.seed, ModelOptions{.threads = o.threads, .input_gradient = true});
  if (o.training) model.train();
  else model.eval();

  SplitMix rng(o.seed * 7919 + 1);
  const std::size_t input_size = static_cast<std::size_t>(o.batch) * DoubleModel::input_dims.size();
  const std::size_t output_size = static_cast<std::size_t>(o.batch) * DoubleModel::output_dims.size();
  std::vector<double> x(input_size), upstream(output_size);
  for (double& v : x) v = o.input_low + (o.input_high - o.input_low) * rng.uniform();
  for (double& v : upstream) v = 2.0 * rng.uniform() - 1.0;
  for (const auto& t : model.parameters()) {
    const bool is_gamma = t.name.find("batch_norm.weight") != std::string::npos;
    for (std::size_t i = 0; i < t.size; ++i)
      t.data[i] = (is_gamma ? 1.0 : 0.0) + o.parameter_scale * (2.0 * rng.uniform() - 1.0);
  }
  // Running statistics away from their initial values, so eval mode is a real test.
  for (const auto& t : model.buffers()) {
    const bool is_var = t.name.find("running_var") != std::string::npos;
    for (std::size_t i = 0; i < t.size; ++i) t.data[i] = is_var ? 0.5 + rng.uniform() : 0.5 * (rng.uniform() - 0.5);
  }
  const std::vector<double> buffers_before(model.buffer_data().begin(), model.buffer_data().end());
  const std::uint64_t step = 41;

  // Each forward starts from the same step (same dropout mask) and the same buffers.
  auto run_forward = [&]() {
    std::copy(buffers_before.begin(), buffers_before.end(), model.buffer_data().begin());
    std::copy(x.begin(), x.end(), model.input(o.batch).data);
    model.set_step_count(step);
    return model.forward(o.batch);
  };
  // L = sum(upstream * y)
  auto objective = [&]() {
    const auto y = run_forward();
    double sum = 0.0;
    for (std::size_t i = 0; i < output_size; ++i) sum += upstream[i] * y.data[i];
    return sum;
  };

  const auto y_double = run_forward();
  const std::vector<double> output(y_double.data, y_double.data + output_size);
  auto grad_out = model.output_gradient();
  std::copy(upstream.begin(), upstream.end(), grad_out.data);
  model.backward(grad_out);
  const std::vector<double> input_grad(model.input_gradient().data, model.input_gradient().data + input_size);
  const std::vector<double> param_grad(model.gradient_data().begin(), model.gradient_data().end());

  auto numeric = [&](double& value) {
    const double saved = value;
    value = saved + o.step;
    const double plus = objective();
    value = saved - o.step;
    const double minus = objective();
    value = saved;
    return (plus - minus) / (2.0 * o.step);
  };

  for (std::size_t i : chosen_indices(input_size, o.max_checked, o.seed + 1)) {
    const double expected = numeric(x[i]);
    INFO("input element " << i);
    CHECK(std::abs(input_grad[i] - expected) <= o.tolerance * std::max(1.0, std::abs(expected)));
  }
  for (const auto& t : model.parameters()) {
    for (std::size_t i : chosen_indices(t.size, o.max_checked, o.seed + 2)) {
      const double expected = numeric(t.data[i]);
      INFO(t.name << "[" << i << "]");
      CHECK(std::abs(param_grad[t.offset + i] - expected) <= o.tolerance * std::max(1.0, std::abs(expected)));
    }
  }

  // The same weights in float: outputs and gradients within float_tolerance of double.
  Model<Net, Cpu, float> single(o.batch, o.seed, ModelOptions{.threads = o.threads, .input_gradient = true});
  if (o.training) single.train();
  else single.eval();
  std::copy(model.parameter_data().begin(), model.parameter_data().end(), single.parameter_data().begin());
  std::copy(buffers_before.begin(), buffers_before.end(), single.buffer_data().begin());
  std::copy(x.begin(), x.end(), single.input(o.batch).data);
  single.set_step_count(step);
  const auto y = single.forward(o.batch);
  CHECK(relative_difference(y.data, output, output_size) <= o.float_tolerance);
  auto single_grad_out = single.output_gradient();
  std::copy(upstream.begin(), upstream.end(), single_grad_out.data);
  single.backward(single_grad_out);
  CHECK(relative_difference(single.input_gradient().data, input_grad, input_size) <= o.float_tolerance);
  for (const auto& t : single.parameters()) {
    INFO("float " << t.name);
    CHECK(relative_difference(single.gradient_data().data() + t.offset, param_grad.data() + t.offset, t.size) <=
          o.float_tolerance);
  }
}

}  // namespace strata::testing
