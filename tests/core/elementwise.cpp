// Tests for strata/core/elementwise.hpp: the per-element math both backends share.
#include <doctest/doctest.h>

#include <cmath>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("activation derivatives computed from the output match the analytic ones") {
  for (double x = -4.0; x <= 4.0; x += 0.37) {
    const double s = elementwise::sigmoid(x);
    CHECK(elementwise::sigmoid_backward(s, 1.0) == doctest::Approx(std::exp(-x) / ((1 + std::exp(-x)) * (1 + std::exp(-x)))));
    const double t = elementwise::tanh_forward(x);
    CHECK(elementwise::tanh_backward(t, 1.0) == doctest::Approx(1.0 / (std::cosh(x) * std::cosh(x))));
    CHECK(elementwise::leaky_relu_backward(elementwise::leaky_relu(x, 0.2), 1.0, 0.2) == (x > 0 ? 1.0 : 0.2));
    CHECK(elementwise::relu_backward(elementwise::relu(x), 2.0) == (x > 0 ? 2.0 : 0.0));
  }
}

TEST_CASE("dropout_scale keeps draws at or above the rate and rescales them") {
  CHECK(elementwise::dropout_scale(0.1f, 0.25f) == 0.0f);
  CHECK(elementwise::dropout_scale(0.25f, 0.25f) == doctest::Approx(1.0 / 0.75));
}
