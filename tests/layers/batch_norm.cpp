// Tests for strata/layers/batch_norm.hpp: gradients in both modes, normalisation, running
// statistics and eval-mode determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <utility>
#include <vector>

#include <strata/strata.hpp>

#include "support/gradient_check.hpp"

using namespace strata;

static_assert(BatchNorm::config.momentum == 0.99 && BatchNorm::config.epsilon == 1e-3, "Keras' defaults");

TEST_CASE("BatchNorm gradients match finite differences in training and eval mode") {
  testing::check_gradients<Sequential<Input<3, 5, 4>, BatchNorm>>({.batch = 4});
  testing::check_gradients<Sequential<Input<2, 3, 3>, BatchNorm>>({.batch = 2, .threads = 1});
  testing::check_gradients<Sequential<Input<3, 5, 4>, BatchNorm>>({.batch = 3, .training = false});
}

namespace {
using Net = Sequential<Input<2, 4, 4>, BatchNorm>;
constexpr int kBatch = 16;
constexpr double kMean[2] = {3.0, -1.0};
constexpr double kStd[2] = {2.0, 0.5};

// Samples with per-channel mean kMean and standard deviation kStd (uniform, so sd = range / sqrt(12)).
std::vector<float> batch_from_distribution(SplitMix& rng) {
  std::vector<float> x(kBatch * 2 * 16);
  for (int n = 0; n < kBatch; ++n)
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 16; ++i)
        x[(n * 2 + c) * 16 + i] = static_cast<float>(kMean[c] + kStd[c] * std::sqrt(12.0) * (rng.uniform() - 0.5));
  return x;
}
}  // namespace

TEST_CASE("BatchNorm normalises each channel of a training batch") {
  Model<Net, Cpu> model(kBatch, 1);
  SplitMix rng(5);
  const auto x = batch_from_distribution(rng);
  std::copy(x.begin(), x.end(), model.input(kBatch).data);
  const auto y = model.forward(kBatch);
  const double count = kBatch * 16;
  auto moments = [&](const float* data, int c) {
    double sum = 0, sum_sq = 0;
    for (int n = 0; n < kBatch; ++n)
      for (int i = 0; i < 16; ++i) {
        const double v = data[(n * 2 + c) * 16 + i];
        sum += v;
        sum_sq += v * v;
      }
    const double mean = sum / count;
    return std::pair{mean, sum_sq / count - mean * mean};
  };
  for (int c = 0; c < 2; ++c) {
    const auto [in_mean, in_var] = moments(x.data(), c);
    const auto [out_mean, out_var] = moments(y.data, c);
    CHECK(out_mean == doctest::Approx(0.0).scale(1.0).epsilon(1e-5));
    CHECK(out_var == doctest::Approx(in_var / (in_var + 1e-3)).epsilon(1e-4));  // epsilon = 1e-3
  }
}

TEST_CASE("BatchNorm running statistics converge to the data's; eval mode is deterministic") {
  Model<Net, Cpu> model(kBatch, 1);
  SplitMix rng(9);
  for (int step = 0; step < 800; ++step) {  // 0.99^800: the initial values are forgotten
    const auto x = batch_from_distribution(rng);
    std::copy(x.begin(), x.end(), model.input(kBatch).data);
    model.forward(kBatch);
  }
  const auto& buffers = model.buffers();
  REQUIRE(buffers.size() == 2);
  CHECK(buffers[0].name == "0.batch_norm.running_mean");
  CHECK(buffers[1].name == "0.batch_norm.running_var");
  for (int c = 0; c < 2; ++c) {
    CHECK(buffers[0].data[c] == doctest::Approx(kMean[c]).epsilon(0.02));
    CHECK(buffers[1].data[c] == doctest::Approx(kStd[c] * kStd[c]).epsilon(0.05));
  }

  // Eval: the same input gives the same output, twice, and it does not move the statistics.
  model.eval();
  const auto x = batch_from_distribution(rng);
  const std::vector<float> mean_before(buffers[0].data, buffers[0].data + 2);
  std::vector<float> first(x.size()), second(x.size());
  model.predict(x, kBatch, first);
  model.predict(x, kBatch, second);
  CHECK(first == second);
  CHECK(std::vector<float>(buffers[0].data, buffers[0].data + 2) == mean_before);
  // Eval uses running statistics: a single sample is normalised by the data's statistics.
  std::vector<float> one(x.begin(), x.begin() + 32), one_out(32);
  model.predict(one, 1, one_out);
  for (int i = 0; i < 16; ++i)
    CHECK(one_out[i] == doctest::Approx((one[i] - kMean[0]) / std::sqrt(kStd[0] * kStd[0] + 1e-3)).epsilon(0.05).scale(1.0));
}
