// Tests for strata/backend/cpu/conv.hpp: col2im is the adjoint of im2col for every geometry; the
// float implicit-GEMM path agrees with the double im2col one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("col2im_add is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>") {
  SplitMix rng(6);
  const Dims in{2, 7, 6};
  for (const ConvGeometry g : {ConvGeometry{3, 1, 1, 1}, ConvGeometry{3, 2, 0, 1}, ConvGeometry{4, 1, 1, 1},
                               ConvGeometry{2, 3, 0, 0}, ConvGeometry{5, 1, 2, 2}}) {
    const int out_h = (in.h + 2 * g.pad_top - g.kernel) / g.stride + 1;
    const int out_w = (in.w + 2 * g.pad_left - g.kernel) / g.stride + 1;
    const Dims out{1, out_h, out_w};
    const std::size_t rows = static_cast<std::size_t>(in.c) * g.kernel * g.kernel;
    std::vector<double> x(in.size()), c(rows * out.plane()), col(c.size()), back(x.size(), 0.0);
    for (double& v : x) v = rng.uniform() - 0.5;
    for (double& v : c) v = rng.uniform() - 0.5;
    cpu::im2col(x.data(), in, out, g, col.data());
    cpu::col2im_add(c.data(), in, out, g, back.data());
    double left = 0.0, right = 0.0;
    for (std::size_t i = 0; i < c.size(); ++i) left += col[i] * c[i];
    for (std::size_t i = 0; i < x.size(); ++i) right += x[i] * back[i];
    INFO("kernel " << g.kernel << " stride " << g.stride);
    CHECK(left == doctest::Approx(right).epsilon(1e-12));
  }
}

namespace {

// Runs conv2d_forward and conv2d_backward in scalar T on the given inputs (as doubles).
template <class T>
struct ConvRun {
  std::vector<T> y, dx, dweight, dbias;
};

template <class T>
ConvRun<T> run_conv(Dims in, Dims out, const ConvGeometry& g, int batch, int threads, const std::vector<double>& x,
                    const std::vector<double>& weight, const std::vector<double>& bias, const std::vector<double>& dy) {
  const auto cast = [](const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); };
  const std::vector<T> xs = cast(x), ws = cast(weight), bs = cast(bias), dys = cast(dy);
  std::vector<T> scratch(cpu::conv2d_scratch_floats(in, out, g, batch, threads), T(-7));  // garbage, not zeros
  ConvRun<T> r{std::vector<T>(batch * out.size()), std::vector<T>(batch * in.size(), T(-7)),
               std::vector<T>(weight.size(), T(-7)), std::vector<T>(bias.size(), T(-7))};
  cpu::conv2d_forward<T>({xs.data(), batch, in}, {r.y.data(), batch, out}, ws.data(), bs.data(), g, scratch.data(),
                         threads);
  cpu::conv2d_backward<T>({xs.data(), batch, in}, {dys.data(), batch, out}, {r.dx.data(), batch, in}, ws.data(),
                          r.dweight.data(), r.dbias.data(), g, scratch.data(), threads);
  return r;
}

template <class T>
void check_close(const std::vector<T>& got, const std::vector<double>& expected, double tolerance) {
  REQUIRE(got.size() == expected.size());
  double scale = 0.0;
  for (double v : expected) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(static_cast<double>(got[i]) - expected[i]) <= tolerance * scale);
  }
}

}  // namespace

// The float path with AVX-512 reads patches from a padded copy of each image (implicit GEMM) and
// computes backward-data as a convolution with flipped weights; double takes im2col + Eigen.
TEST_CASE("float convolution (implicit GEMM where it applies) agrees with the double im2col path") {
  struct Case {
    Dims in;
    int filters;
    ConvGeometry g;
  };
  // Same-size outputs: kernel 3, an even kernel (padding 1 above, 2 below), kernel 5; rows 16 and
  // 32 wide (implicit), 20 wide (im2col in both).
  for (const Case c : {Case{{3, 5, 16}, 7, {3, 1, 1, 1}}, Case{{5, 4, 32}, 13, {4, 1, 1, 1}},
                       Case{{2, 3, 16}, 3, {5, 1, 2, 2}}, Case{{4, 6, 20}, 6, {3, 1, 1, 1}},
                       Case{{32, 16, 16}, 3, {3, 1, 1, 1}}}) {
    const Dims out{c.filters, c.in.h, c.in.w};
    const int batch = 3;
    SplitMix rng(21);
    const auto draw = [&](std::size_t n) {
      std::vector<double> v(n);
      for (double& e : v) e = rng.uniform() - 0.5;
      return v;
    };
    const auto x = draw(batch * c.in.size()), dy = draw(batch * out.size());
    const auto weight = draw(static_cast<std::size_t>(c.filters) * c.in.c * c.g.kernel * c.g.kernel);
    const auto bias = draw(c.filters);
    INFO("input " << c.in.c << "x" << c.in.h << "x" << c.in.w << ", kernel " << c.g.kernel << ", implicit "
                  << cpu::uses_padded_patches<float>(c.in, out, c.g));
    for (const int threads : {1, 2}) {
      const ConvRun<double> expected = run_conv<double>(c.in, out, c.g, batch, threads, x, weight, bias, dy);
      const ConvRun<float> got = run_conv<float>(c.in, out, c.g, batch, threads, x, weight, bias, dy);
      check_close(got.y, expected.y, 1e-5);
      check_close(got.dx, expected.dx, 1e-5);
      check_close(got.dweight, expected.dweight, 1e-5);
      check_close(got.dbias, expected.dbias, 1e-5);
    }
  }
#if defined(STRATA_HAVE_AVX512_GEMM)
  CHECK(cpu::uses_padded_patches<float>({3, 5, 16}, {7, 5, 16}, {3, 1, 1, 1}));
#endif
  CHECK_FALSE(cpu::uses_padded_patches<double>({3, 5, 16}, {7, 5, 16}, {3, 1, 1, 1}));
  CHECK_FALSE(cpu::uses_padded_patches<float>({4, 6, 20}, {6, 6, 20}, {3, 1, 1, 1}));
}
