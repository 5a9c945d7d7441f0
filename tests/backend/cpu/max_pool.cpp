// Tests for strata/backend/cpu/max_pool.hpp: the float 2 x 2 path (AVX-512 where the build has
// it) gives the same bits as the scalar loop, which double takes.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("float 2x2 max pooling equals the scalar loop, ties and zeros included") {
  // Values on a coarse grid (exact in float and double) so that windows hold ties, which must
  // go to the first maximum in row-major order.
  for (const Dims in : {Dims{3, 4, 32}, Dims{2, 6, 64}, Dims{2, 4, 20}}) {
    const Dims out{in.c, in.h / 2, in.w / 2};
    const int batch = 2;
    SplitMix rng(5);
    std::vector<double> x(batch * in.size()), dy(batch * out.size());
    for (double& v : x) v = static_cast<double>(static_cast<int>(rng.uniform() * 5)) - 2.0;
    for (double& v : dy) v = rng.uniform() - 0.5;
    const std::vector<float> xf(x.begin(), x.end()), dyf(dy.begin(), dy.end());

    std::vector<double> y(batch * out.size()), dx(batch * in.size(), -1.0);
    std::vector<float> yf(y.size()), dxf(dx.size(), -1.0f);
    cpu::max_pool_forward<double>({x.data(), batch, in}, {y.data(), batch, out}, 2, 2);
    cpu::max_pool_forward<float>({xf.data(), batch, in}, {yf.data(), batch, out}, 2, 2);
    cpu::max_pool_backward<double>({x.data(), batch, in}, {y.data(), batch, out}, {dy.data(), batch, out},
                                   {dx.data(), batch, in}, 2, 2);
    cpu::max_pool_backward<float>({xf.data(), batch, in}, {yf.data(), batch, out}, {dyf.data(), batch, out},
                                  {dxf.data(), batch, in}, 2, 2);
    INFO("input " << in.c << "x" << in.h << "x" << in.w << ", vector path " << cpu::uses_pool2_vectors<float>(in, 2));
    for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(static_cast<double>(yf[i]) == y[i]);
    for (std::size_t i = 0; i < dx.size(); ++i)
      REQUIRE(static_cast<double>(dxf[i]) == static_cast<double>(static_cast<float>(dx[i])));
    // Each window passes its gradient to exactly one input.
    int nonzero = 0;
    for (float v : dxf) nonzero += v != 0.0f;
    CHECK(nonzero == static_cast<int>(dy.size()));
  }
#if defined(__AVX512F__)
  CHECK(cpu::uses_pool2_vectors<float>({3, 4, 32}, 2));
#endif
  CHECK_FALSE(cpu::uses_pool2_vectors<float>({3, 4, 20}, 2));
  CHECK_FALSE(cpu::uses_pool2_vectors<double>({3, 4, 32}, 2));
}
