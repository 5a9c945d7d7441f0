// Tests for strata/layers/dropout.hpp.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

#include "support/gradient_check.hpp"

using namespace strata;

static_assert(Dropout<25>::rate == 0.25f);
static_assert(Dropout<100>::check({1, 1, 1}).length > 0);

TEST_CASE("Dropout gradients match finite differences with the step's mask") {
  testing::check_gradients<Sequential<Input<3, 6, 5>, Dropout<30>>>({.batch = 2});
  testing::check_gradients<Sequential<Input<3, 6, 5>, Dropout<30>>>({.batch = 2, .training = false});
}

TEST_CASE("Dropout drops the stated fraction in training, scales survivors, and is identity in eval") {
  using Net = Sequential<Input<4, 32, 32>, Dropout<25>>;
  const int batch = 8;
  Model<Net, Cpu> model(batch, 3);
  std::vector<float> x(batch * 4 * 32 * 32, 2.0f);
  std::copy(x.begin(), x.end(), model.input(batch).data);
  const auto y = model.forward(batch);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (y.data[i] == 0.0f) ++dropped;
    else CHECK(y.data[i] == doctest::Approx(2.0 / 0.75));
  }
  CHECK(static_cast<double>(dropped) / x.size() == doctest::Approx(0.25).epsilon(0.03));

  // The next training step draws a different mask; the same step and seed give the same one.
  const std::vector<float> first(y.data, y.data + x.size());
  model.forward(batch);
  const std::vector<float> second(y.data, y.data + x.size());
  CHECK(first != second);
  model.set_step_count(0);
  model.forward(batch);
  CHECK(std::vector<float>(y.data, y.data + x.size()) == first);

  model.eval();
  std::vector<float> out(x.size());
  model.predict(x, batch, out);
  CHECK(out == x);
}
