// Tests for strata/backend/cpu/conv.hpp: col2im is the adjoint of im2col for every geometry.
#include <doctest/doctest.h>

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
