// Tests for strata/layers/conv.hpp: shape rules, a direct reference, and gradient checks.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

#include "support/gradient_check.hpp"

using namespace strata;

// Shape rules, including Keras' 'same' on odd sizes with stride 2.
static_assert(Conv<8, 3>::output_dims({3, 7, 5}) == Dims{8, 7, 5});
static_assert(Conv<8, 3, 2>::output_dims({3, 7, 5}) == Dims{8, 4, 3});
static_assert(Conv<8, 3, 1, Valid>::output_dims({3, 7, 5}) == Dims{8, 5, 3});
static_assert(Conv<8, 2, 2, Valid>::output_dims({3, 7, 5}) == Dims{8, 3, 2});
static_assert(Conv<8, 4>::geometry({3, 8, 8}).pad_top == 1);   // 3 rows of padding: 1 above, 2 below
static_assert(Conv<8, 3, 2>::geometry({3, 8, 8}).pad_top == 0);  // total 1: all below, as TensorFlow
static_assert(Conv<8, 3, 2>::geometry({3, 7, 7}).pad_top == 1);
static_assert(Conv<8, 5, 1, Valid>::check({3, 4, 9}).length > 0);
static_assert(Conv<8, 3>::check({3, 1, 1}).empty());
static_assert(Conv<32, 3>::name().view() == "Conv<32, 3>");
static_assert(Conv<32, 3, 2, Valid>::name().view() == "Conv<32, 3, 2, Valid>");

namespace {

// Direct convolution with TensorFlow's 'same' padding rule, written independently of the layer.
template <int F, int K, int S, Padding P, int C, int H, int W>
std::vector<double> reference_conv(const std::vector<double>& x, const double* weight, const double* bias, int batch) {
  const int out_h = P == Same ? (H + S - 1) / S : (H - K) / S + 1;
  const int out_w = P == Same ? (W + S - 1) / S : (W - K) / S + 1;
  const int pad_h = P == Same ? std::max((out_h - 1) * S + K - H, 0) / 2 : 0;
  const int pad_w = P == Same ? std::max((out_w - 1) * S + K - W, 0) / 2 : 0;
  std::vector<double> y(static_cast<std::size_t>(batch) * F * out_h * out_w);
  for (int n = 0; n < batch; ++n)
    for (int f = 0; f < F; ++f)
      for (int oy = 0; oy < out_h; ++oy)
        for (int ox = 0; ox < out_w; ++ox) {
          double sum = bias[f];
          for (int c = 0; c < C; ++c)
            for (int ky = 0; ky < K; ++ky)
              for (int kx = 0; kx < K; ++kx) {
                const int iy = oy * S - pad_h + ky;
                const int ix = ox * S - pad_w + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                sum += weight[((f * C + c) * K + ky) * K + kx] * x[((n * C + c) * H + iy) * W + ix];
              }
          y[((n * F + f) * out_h + oy) * out_w + ox] = sum;
        }
  return y;
}

template <int F, int K, int S, Padding P, int C, int H, int W>
void check_against_reference() {
  using Net = Sequential<Input<C, H, W>, Conv<F, K, S, P>>;
  const int batch = 3;
  Model<Net, Cpu, double> model(batch, 5, ModelOptions{.threads = 2});
  SplitMix rng(11);
  for (double& v : model.parameter_data()) v = rng.uniform() - 0.5;
  std::vector<double> x(static_cast<std::size_t>(batch) * C * H * W);
  for (double& v : x) v = rng.uniform() - 0.5;
  std::vector<double> y(batch * Net::output_shape::size);
  model.predict(x, batch, y);
  const double* weight = model.parameter_data().data();
  const auto expected = reference_conv<F, K, S, P, C, H, W>(x, weight, weight + F * C * K * K, batch);
  REQUIRE(expected.size() == y.size());
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == doctest::Approx(expected[i]).epsilon(1e-12));
}

}  // namespace

TEST_CASE("Conv forward matches a direct convolution") {
  check_against_reference<4, 3, 1, Same, 3, 7, 5>();
  check_against_reference<3, 3, 2, Same, 2, 7, 8>();
  check_against_reference<2, 4, 1, Same, 2, 6, 5>();   // even kernel: asymmetric padding
  check_against_reference<3, 2, 2, Valid, 2, 7, 6>();
  check_against_reference<5, 1, 1, Same, 3, 4, 4>();   // pointwise: no column matrix
  check_against_reference<2, 5, 1, Valid, 1, 5, 5>();  // kernel as large as the input
}

TEST_CASE("Conv gradients match finite differences") {
  testing::check_gradients<Sequential<Input<3, 7, 5>, Conv<4, 3>>>({.batch = 3});
  testing::check_gradients<Sequential<Input<2, 6, 6>, Conv<3, 2, 2, Valid>>>({.batch = 2});
  testing::check_gradients<Sequential<Input<2, 8, 7>, Conv<3, 4, 3>>>({.batch = 2});
  testing::check_gradients<Sequential<Input<3, 5, 5>, Conv<2, 1>>>({.batch = 3});
  testing::check_gradients<Sequential<Input<2, 5, 5>, Conv<2, 3>>>({.batch = 1, .threads = 1});
}

TEST_CASE("Conv parameters: names, shapes and Glorot-uniform initialisation") {
  Model<Sequential<Input<3, 8, 8>, Conv<16, 3>>, Cpu> model(1, 3);
  const auto& p = model.parameters();
  REQUIRE(p.size() == 2);
  CHECK(p[0].name == "0.conv.weight");
  CHECK(p[0].shape == std::vector<int>{16, 3, 3, 3});
  CHECK(p[1].name == "0.conv.bias");
  CHECK(p[1].shape == std::vector<int>{16});
  const double limit = std::sqrt(6.0 / (3 * 9 + 16 * 9));
  double max_abs = 0.0, sum_sq = 0.0;
  for (std::size_t i = 0; i < p[0].size; ++i) {
    max_abs = std::max(max_abs, std::abs(static_cast<double>(p[0].data[i])));
    sum_sq += static_cast<double>(p[0].data[i]) * p[0].data[i];
  }
  CHECK(max_abs <= limit);
  CHECK(max_abs > 0.9 * limit);
  CHECK(sum_sq / p[0].size == doctest::Approx(limit * limit / 3).epsilon(0.15));  // variance of U(-l, l)
  for (std::size_t i = 0; i < p[1].size; ++i) CHECK(p[1].data[i] == 0.0f);
}
