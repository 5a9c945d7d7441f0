// Tests for strata/layers/relu.hpp.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <strata/strata.hpp>

#include "support/gradient_check.hpp"

using namespace strata;

static_assert(ReLU::output_dims({3, 5, 7}) == Dims{3, 5, 7});
static_assert(ReLU::name().view() == "ReLU");

TEST_CASE("ReLU forward matches its formula") {
  using Net = Sequential<Input<1, 3, 7>, ReLU>;
  Model<Net, Cpu, double> model(1, 1);
  std::vector<double> x(21), y(21);
  for (int i = 0; i < 21; ++i) x[i] = -6.0 + 0.6 * i;  // includes values far from zero
  model.predict(x, 1, y);
  for (int i = 0; i < 21; ++i) {
    const double v = x[i];
    CHECK(y[i] == doctest::Approx([](double x) { return std::max(x, 0.0); }(v)).epsilon(1e-14));
  }
}

TEST_CASE("ReLU gradients match finite differences") {
  testing::check_gradients<Sequential<Input<2, 5, 3>, ReLU>>({.batch = 3, .input_low = -3.0, .input_high = 3.0});
}
