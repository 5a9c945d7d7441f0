// Tests for strata/optim/sgd.hpp against hand-computed updates.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("Sgd: plain, momentum and Nesterov updates") {
  for (const bool nesterov : {false, true}) {
    Sgd sgd{.lr = 0.1f, .momentum = 0.9f, .nesterov = nesterov};
    std::vector<double> p{1.0, -1.0}, velocity(2, 0.0);
    double expected[2] = {1.0, -1.0}, vel[2] = {0.0, 0.0};
    for (int t = 1; t <= 4; ++t) {
      std::vector<double> g{0.5 * t, -0.25};
      for (int i = 0; i < 2; ++i) {
        vel[i] = 0.9 * vel[i] + g[i];
        expected[i] -= 0.1 * (nesterov ? g[i] + 0.9 * vel[i] : vel[i]);
      }
      sgd.update<Cpu>(p.data(), g.data(), velocity.data(), 2, 1);
      for (int i = 0; i < 2; ++i) CHECK(p[i] == doctest::Approx(expected[i]).epsilon(1e-6));
    }
  }
  Sgd plain{.lr = 0.5f};
  std::vector<double> p{1.0}, g{2.0}, velocity(1, 0.0);
  plain.update<Cpu>(p.data(), g.data(), velocity.data(), 1, 1);
  CHECK(p[0] == doctest::Approx(0.0));
}

TEST_CASE("Sgd trains a model through train_step") {
  Model<Sequential<Input<1, 2, 2>, Conv<1, 1>, Sigmoid>, Cpu> model(1, 2);
  Sgd sgd{.lr = 1.0f, .momentum = 0.5f};
  const std::vector<float> x{1, 1, 1, 1}, y{1, 1, 1, 1};
  const float first = model.train_step(x, y, 1, MeanSquaredError{}, sgd);
  float last = first;
  for (int i = 0; i < 50; ++i) last = model.train_step(x, y, 1, MeanSquaredError{}, sgd);
  CHECK(last < 0.1f * first);
}
