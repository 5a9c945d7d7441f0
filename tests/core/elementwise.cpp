// Tests for strata/core/elementwise.hpp: the per-element math both backends share.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

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

TEST_CASE("round_half_away is std::round on every float class: halves, near-halves, whole, huge, inf, NaN") {
  std::vector<float> values{0.0f,   -0.0f,  0.5f,   -0.5f,  1.5f,   2.5f,   -2.5f,  0.49999997f, -0.49999997f,
                            1.0f,   0.999f, 1e-30f, 4194303.5f, 8388607.0f, 8388608.0f, 16777217.0f, 3e38f,
                            -3e38f, 1e-45f, std::nextafter(0.5f, 0.0f), std::nextafter(0.5f, 1.0f),
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  // And a sweep of 2^20 bit patterns across the whole float range (every 4096th pattern).
  for (std::uint32_t bits = 0; bits < 0xFFFFF000u; bits += 4096u) {
    float x;
    std::memcpy(&x, &bits, sizeof x);
    values.push_back(x);
  }
  std::size_t checked = 0;
  for (float x : values) {
    if (std::isnan(x)) {
      CHECK(std::isnan(elementwise::round_half_away(x)));
      continue;
    }
    INFO("x = " << x);
    const float expected = std::round(x);
    const float got = elementwise::round_half_away(x);
    CHECK(got == expected);
    CHECK(std::signbit(got) == std::signbit(expected));
    ++checked;
  }
  CHECK(checked > 1000000);
  CHECK(std::isnan(elementwise::round_half_away(std::numeric_limits<float>::quiet_NaN())));
}
