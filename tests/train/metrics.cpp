// Tests for strata/train/metrics.hpp and strata/train/history.hpp against hand-computed values.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <strata/train/history.hpp>
#include <strata/train/metrics.hpp>

using namespace strata;
using namespace strata::train;

TEST_CASE("metrics: accuracy over all values, L1/L2/PSNR over the hole, averaged per image") {
  const Dims dims{1, 2, 2};
  const data::Hole hole{0, 0, 1, 2};  // the top row
  // Image 0: hole errors 0.1 and 0.3; image 1: a perfect hole.
  const std::vector<float> prediction{0.6f, 0.3f, 0.9f, 0.2f, /**/ 0.5f, 0.5f, 0.0f, 1.0f};
  const std::vector<float> target{0.5f, 0.6f, 0.8f, 0.7f, /**/ 0.5f, 0.5f, 1.0f, 1.0f};
  MetricsAccumulator m;
  m.add(0.25, prediction, target, 2, dims, hole);
  const Metrics r = m.result();
  CHECK(r.loss == doctest::Approx(0.25));
  // round(p) == round(t): image 0: 1==1 (0.6 vs 0.5 rounds to 1 and 1? std::round(0.5) = 1), 0==1, 1==1, 0==1
  // -> 2 of 4; image 1: 1==1, 1==1, 0==1, 1==1 -> 3 of 4.
  CHECK(r.accuracy == doctest::Approx(5.0 / 8.0));
  CHECK(r.hole_l1 == doctest::Approx((0.2 + 0.0) / 2));
  CHECK(r.hole_l2 == doctest::Approx((0.05 + 0.0) / 2));
  CHECK(r.hole_psnr == doctest::Approx((10 * std::log10(1 / 0.05) + 100.0) / 2).epsilon(1e-5));
}

TEST_CASE("metric sums survive their text form exactly; malformed text is rejected") {
  train::MetricsAccumulator m;
  const Dims dims{3, 4, 4};
  const data::Hole hole{1, 1, 2, 2};
  std::vector<float> p(2 * dims.size()), t(2 * dims.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = static_cast<float>((i * 7) % 11) / 11.0f;
    t[i] = static_cast<float>((i * 5) % 13) / 13.0f;
  }
  m.add(0.123456789123, p, t, 2, dims, hole);
  const train::MetricsAccumulator back = train::MetricsAccumulator::from_text(m.to_text());
  CHECK(back.images() == 2);
  CHECK(back.result().loss == m.result().loss);
  CHECK(back.result().hole_psnr == m.result().hole_psnr);
  CHECK(back.result().accuracy == m.result().accuracy);
  CHECK_THROWS_AS(train::MetricsAccumulator::from_text("1 2 3"), std::invalid_argument);
}

TEST_CASE("history survives its CSV form") {
  std::vector<EpochRecord> rows(2);
  rows[0].epoch = 1;
  rows[0].train = {0.5, 0.6, 0.1, 0.02, 17.5};
  rows[0].validation = {0.55, 0.58, 0.12, 0.03, 16.25};
  rows[0].learning_rate = 1e-3;
  rows[0].seconds = 12.5;
  rows[1] = rows[0];
  rows[1].epoch = 2;
  const auto back = parse_history_csv(history_csv(rows));
  REQUIRE(back.size() == 2);
  CHECK(back[1].epoch == 2);
  CHECK(back[0].validation.hole_psnr == doctest::Approx(16.25));
  CHECK(back[0].learning_rate == doctest::Approx(1e-3));
  CHECK_THROWS_AS(parse_history_csv("nope\n1,2"), std::runtime_error);
}
