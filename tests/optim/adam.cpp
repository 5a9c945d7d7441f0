// Tests for strata/optim/adam.hpp against hand-computed updates.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;

static_assert(Adam{}.lr == 1e-3 && Adam{}.beta1 == 0.9 && Adam{}.beta2 == 0.999 && Adam{}.epsilon == 1e-7,
              "Keras' defaults");

TEST_CASE("Adam applies bias-corrected updates") {
  Adam adam{.lr = 0.1f};
  std::vector<double> p{1.0, -2.0, 0.5}, g{0.5, -3.0, 0.0}, state(6, 0.0);
  std::vector<double> m(3, 0.0), v(3, 0.0), expected = p;
  for (int t = 1; t <= 3; ++t) {
    for (int i = 0; i < 3; ++i) {
      const double grad = g[i] * t;  // a gradient that changes between steps
      m[i] = 0.9 * m[i] + 0.1 * grad;
      v[i] = 0.999 * v[i] + 0.001 * grad * grad;
      const double m_hat = m[i] / (1 - std::pow(0.9, t));
      const double v_hat = v[i] / (1 - std::pow(0.999, t));
      expected[i] -= 0.1 * m_hat / (std::sqrt(v_hat) + 1e-7);
    }
    std::vector<double> step_grad{g[0] * t, g[1] * t, g[2] * t};
    adam.update<Cpu>(p.data(), step_grad.data(), state.data(), 3, 1);
    for (int i = 0; i < 3; ++i) CHECK(p[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  }
  CHECK(adam.steps == 3);
  // The first step moves every parameter with a non-zero gradient by about lr, against the sign.
  Adam fresh{.lr = 0.1f};
  std::vector<double> q{0.0}, gq{5.0}, sq(2, 0.0);
  fresh.update<Cpu>(q.data(), gq.data(), sq.data(), 1, 1);
  CHECK(q[0] == doctest::Approx(-0.1).epsilon(1e-6));
}
