// Tests for strata/losses/mean_squared_error.hpp.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

using namespace strata;

namespace {
constexpr Dims kDims{3, 2, 5};
constexpr int kBatch = 2;

double loss_of(const std::vector<double>& p, const std::vector<double>& t, std::span<const float> weights,
               std::vector<double>& grad) {
  grad.assign(p.size(), 0.0);
  return cpu::loss_forward_backward(LossFunction::mean_squared_error, BasicTensor<const double>{p.data(), kBatch, kDims},
                                    BasicTensor<const double>{t.data(), kBatch, kDims}, weights,
                                    BasicTensor<double>{grad.data(), kBatch, kDims}, 2);
}
}  // namespace

TEST_CASE("MeanSquaredError value and gradient") {
  SplitMix rng(8);
  std::vector<double> p(kBatch * kDims.size()), t(p.size()), grad, unused;
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = rng.uniform() * 4 - 2;
    t[i] = rng.uniform();
  }
  double expected = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) expected += (p[i] - t[i]) * (p[i] - t[i]);
  CHECK(loss_of(p, t, {}, grad) == doctest::Approx(expected / p.size()).epsilon(1e-12));

  std::vector<float> weights(kDims.plane());
  for (float& w : weights) w = static_cast<float>(rng.uniform());
  for (const std::span<const float> w : {std::span<const float>{}, std::span<const float>(weights)}) {
    loss_of(p, t, w, grad);
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double saved = p[i];
      p[i] = saved + 1e-6;
      const double plus = loss_of(p, t, w, unused);
      p[i] = saved - 1e-6;
      const double minus = loss_of(p, t, w, unused);
      p[i] = saved;
      CHECK(grad[i] == doctest::Approx((plus - minus) / 2e-6).epsilon(1e-6));
    }
  }
}
