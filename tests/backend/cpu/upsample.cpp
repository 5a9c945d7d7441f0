// Tests for strata/backend/cpu/upsample.hpp: the float factor-2 path (AVX-512 where the build has
// it) gives the same bits as the scalar loop.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("float factor-2 upsampling and its gradient equal the scalar loop") {
  for (const Dims in : {Dims{3, 3, 16}, Dims{2, 5, 32}, Dims{2, 3, 10}}) {
    const Dims out{in.c, 2 * in.h, 2 * in.w};
    const int batch = 2;
    SplitMix rng(8);
    std::vector<float> x(batch * in.size()), dy(batch * out.size());
    for (float& v : x) v = static_cast<float>(rng.uniform() - 0.5);
    for (float& v : dy) v = static_cast<float>(rng.uniform() - 0.5);

    std::vector<float> y(dy.size()), dx(x.size());
    cpu::upsample_forward<float>({x.data(), batch, in}, {y.data(), batch, out}, 2, 2);
    cpu::upsample_backward<float>({dy.data(), batch, out}, {dx.data(), batch, in}, 2, 2);
    INFO("input " << in.c << "x" << in.h << "x" << in.w << ", vector path "
                  << cpu::uses_upsample2_vectors<float>(in, 2));
    for (int n = 0; n < batch; ++n)
      for (int c = 0; c < in.c; ++c)
        for (int iy = 0; iy < in.h; ++iy)
          for (int ix = 0; ix < in.w; ++ix) {
            const std::size_t small = ((static_cast<std::size_t>(n) * in.c + c) * in.h + iy) * in.w + ix;
            const auto big = [&](int dy_, int dx_) {
              return ((static_cast<std::size_t>(n) * out.c + c) * out.h + 2 * iy + dy_) * out.w + 2 * ix + dx_;
            };
            // The scalar loop's order: ((0 + top left) + top right) + bottom left) + bottom right.
            float sum = 0.0f;
            sum += dy[big(0, 0)];
            sum += dy[big(0, 1)];
            sum += dy[big(1, 0)];
            sum += dy[big(1, 1)];
            REQUIRE(dx[small] == sum);
            for (int a = 0; a < 2; ++a)
              for (int b = 0; b < 2; ++b) REQUIRE(y[big(a, b)] == x[small]);
          }
  }
#if defined(__AVX512F__)
  CHECK(cpu::uses_upsample2_vectors<float>({3, 3, 16}, 2));
#endif
  CHECK_FALSE(cpu::uses_upsample2_vectors<float>({3, 3, 10}, 2));
}
