// Tests for strata/layers/upsample.hpp.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

#include "support/gradient_check.hpp"

using namespace strata;

static_assert(Upsample<2>::output_dims({3, 8, 5}) == Dims{3, 16, 10});

TEST_CASE("Upsample copies each pixel into an F x F block; its gradient sums the block") {
  using Net = Sequential<Input<1, 1, 2>, Upsample<2>>;
  Model<Net, Cpu> model(1, 1, ModelOptions{.input_gradient = true});
  model.input(1).data[0] = 1.0f;
  model.input(1).data[1] = 2.0f;
  const auto y = model.forward(1);
  const std::vector<float> expected{1, 1, 2, 2, 1, 1, 2, 2};
  for (int i = 0; i < 8; ++i) CHECK(y.data[i] == expected[i]);
  auto g = model.output_gradient();
  for (int i = 0; i < 8; ++i) g.data[i] = static_cast<float>(i);
  model.backward(g);
  CHECK(model.input_gradient().data[0] == 0.0f + 1 + 4 + 5);
  CHECK(model.input_gradient().data[1] == 2.0f + 3 + 6 + 7);
}

TEST_CASE("Upsample gradients match finite differences") {
  testing::check_gradients<Sequential<Input<2, 3, 5>, Upsample<2>>>({.batch = 2});
  testing::check_gradients<Sequential<Input<1, 2, 3>, Upsample<3>>>({.batch = 3});
}
