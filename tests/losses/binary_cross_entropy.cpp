// Tests for strata/losses/binary_cross_entropy.hpp and the CPU loss kernel.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;

namespace {
constexpr Dims kDims{2, 3, 4};
constexpr int kBatch = 3;

double loss_of(const std::vector<double>& p, const std::vector<double>& t, std::span<const float> weights,
               std::vector<double>& grad) {
  grad.assign(p.size(), 0.0);
  return cpu::loss_forward_backward(LossFunction::binary_cross_entropy, BasicTensor<const double>{p.data(), kBatch, kDims},
                                    BasicTensor<const double>{t.data(), kBatch, kDims}, weights,
                                    BasicTensor<double>{grad.data(), kBatch, kDims}, 2);
}
}  // namespace

TEST_CASE("BinaryCrossEntropy is the mean of -(t log p + (1 - t) log(1 - p))") {
  SplitMix rng(3);
  std::vector<double> p(kBatch * kDims.size()), t(p.size()), grad;
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = 0.05 + 0.9 * rng.uniform();
    t[i] = rng.uniform();
  }
  double expected = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) expected += -(t[i] * std::log(p[i]) + (1 - t[i]) * std::log(1 - p[i]));
  expected /= p.size();
  CHECK(loss_of(p, t, {}, grad) == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("BinaryCrossEntropy gradient matches finite differences, with and without pixel weights") {
  SplitMix rng(4);
  std::vector<double> p(kBatch * kDims.size()), t(p.size()), grad, unused;
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = 0.05 + 0.9 * rng.uniform();
    t[i] = rng.uniform();
  }
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

TEST_CASE("BinaryCrossEntropy pixel weights average over the weighted pixels only (the hole)") {
  std::vector<double> p(kBatch * kDims.size(), 0.5), t(p.size(), 0.5), grad;
  std::vector<float> hole(kDims.plane(), 0.0f);
  hole[5] = 1.0f;  // one pixel of the 3x4 plane
  for (int n = 0; n < kBatch; ++n)
    for (int c = 0; c < kDims.c; ++c) p[(n * kDims.c + c) * kDims.plane() + 5] = 0.9;
  const double inside = -(0.5 * std::log(0.9) + 0.5 * std::log(0.1));
  CHECK(loss_of(p, t, hole, grad) == doctest::Approx(inside).epsilon(1e-12));
  CHECK(grad[0] == 0.0);  // outside the hole
}

TEST_CASE("BinaryCrossEntropy clamps predictions so log(0) cannot happen") {
  std::vector<double> p(kBatch * kDims.size(), 0.0), t(p.size(), 1.0), grad;
  const double loss = loss_of(p, t, {}, grad);
  CHECK(std::isfinite(loss));
  CHECK(loss == doctest::Approx(-std::log(1e-7)).epsilon(1e-9));
  for (double g : grad) CHECK(std::isfinite(g));
  for (double g : grad) CHECK(g < 0.0);  // still pushes the prediction up
}

TEST_CASE("Loss pixel weights of the wrong size are rejected with the expected size") {
  Model<Sequential<Input<1, 4, 4>, Sigmoid>, Cpu> model(1, 1);
  Adam adam;
  std::vector<float> x(16, 0.0f), y(16, 1.0f), weights(15, 1.0f);
  CHECK_THROWS_WITH_AS(model.train_step(x, y, 1, BinaryCrossEntropy{weights}, adam),
                       doctest::Contains("expected 16 values"), std::invalid_argument);
  std::vector<float> zeros(16, 0.0f);
  CHECK_THROWS_AS(model.train_step(x, y, 1, BinaryCrossEntropy{zeros}, adam), std::invalid_argument);
}
