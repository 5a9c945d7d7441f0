// Tests for strata/layers/leaky_relu.hpp.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

#include "support/gradient_check.hpp"

using namespace strata;

static_assert(LeakyReLU<>::slope == 0.3f, "Keras' default alpha");
static_assert(LeakyReLU<>::name().view() == "LeakyReLU<0.3>");
static_assert(LeakyReLU<0.01f>::name().view() == "LeakyReLU<0.01>");
static_assert(LeakyReLU<1.5f>::check({1, 1, 1}).length > 0);

TEST_CASE("LeakyReLU scales negative inputs by its slope") {
  using Net = Sequential<Input<1, 1, 4>, LeakyReLU<0.1f>>;
  Model<Net, Cpu> model(1, 1);
  const std::vector<float> x{-2.0f, -0.5f, 0.5f, 3.0f};
  std::vector<float> y(4);
  model.predict(x, 1, y);
  CHECK(y[0] == doctest::Approx(-0.2));
  CHECK(y[1] == doctest::Approx(-0.05));
  CHECK(y[2] == 0.5f);
  CHECK(y[3] == 3.0f);
}

TEST_CASE("LeakyReLU gradients match finite differences") {
  testing::check_gradients<Sequential<Input<2, 5, 3>, LeakyReLU<>>>({.batch = 3});
  testing::check_gradients<Sequential<Input<3, 4, 4>, LeakyReLU<0.01f>>>({.batch = 2});
}
