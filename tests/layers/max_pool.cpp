// Tests for strata/layers/max_pool.hpp.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

#include "support/gradient_check.hpp"

using namespace strata;

static_assert(MaxPool<2>::output_dims({3, 8, 6}) == Dims{3, 4, 3});
static_assert(MaxPool<2>::check({3, 7, 6}).length > 0);
static_assert(MaxPool<3>::check({3, 9, 6}).empty());

TEST_CASE("MaxPool takes each window's maximum and sends its gradient to the first maximum") {
  using Net = Sequential<Input<1, 2, 4>, MaxPool<2>>;
  Model<Net, Cpu> model(1, 1, ModelOptions{.input_gradient = true});
  const std::vector<float> x{1, 5, 7, 7,
                             3, 2, 7, 0};
  std::copy(x.begin(), x.end(), model.input(1).data);
  const auto y = model.forward(1);
  CHECK(y.data[0] == 5.0f);
  CHECK(y.data[1] == 7.0f);
  auto g = model.output_gradient();
  g.data[0] = 10.0f;
  g.data[1] = 20.0f;
  model.backward(g);
  const auto dx = model.input_gradient();
  const std::vector<float> expected{0, 10, 20, 0,
                                    0, 0, 0, 0};  // a tie goes to the first maximum only
  for (int i = 0; i < 8; ++i) CHECK(dx.data[i] == expected[i]);
}

TEST_CASE("MaxPool gradients match finite differences") {
  testing::check_gradients<Sequential<Input<2, 6, 4>, MaxPool<2>>>({.batch = 3});
  testing::check_gradients<Sequential<Input<1, 9, 9>, MaxPool<3>>>({.batch = 2});
}
