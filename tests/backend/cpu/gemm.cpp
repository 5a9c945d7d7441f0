// Tests for strata/backend/cpu/gemm.hpp (and, in float on AVX-512 machines, gemm_avx512.hpp):
// every transposition against a naive product in double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE_TEMPLATE("gemm adds (or writes) op(A) * op(B) for every transposition and odd sizes", T, double, float) {
  SplitMix rng(2);
  // Sizes around the AVX-512 kernels' tiles (6 x 64, 4 x 6, blocks of 256 and 2048) and edges;
  // k a multiple of 16 takes gemm_abt's unmasked loop.
  for (const auto [m, n, k] : {std::array{1, 1, 1}, std::array{7, 5, 3}, std::array{33, 70, 129}, std::array{3, 200, 17},
                               std::array{13, 321, 300}, std::array{6, 64, 1030}, std::array{32, 4096, 27},
                               std::array{9, 13, 4128}, std::array{5, 7, 2053}, std::array{4, 6, 16}}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const bool accumulate : {true, false}) {
        std::vector<T> a(static_cast<std::size_t>(m) * k), b(static_cast<std::size_t>(k) * n),
            c(static_cast<std::size_t>(m) * n);
        for (T& v : a) v = static_cast<T>(rng.uniform() - 0.5);
        for (T& v : b) v = static_cast<T>(rng.uniform() - 0.5);
        for (T& v : c) v = static_cast<T>(rng.uniform());
        std::vector<double> expected(c.size(), 0.0);
        if (accumulate) std::copy(c.begin(), c.end(), expected.begin());
        // A stored as m x k (or k x m when transposed), B as k x n (or n x k).
        const int lda = ta ? m : k;
        const int ldb = tb ? k : n;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j)
            for (int p = 0; p < k; ++p)
              expected[i * n + j] += static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) *
                                     static_cast<double>(tb ? b[j * ldb + p] : b[p * ldb + j]);
        std::vector<T> workspace(cpu::gemm_workspace_floats(m, n, k));
        cpu::gemm(m, n, k, a.data(), lda, ta, b.data(), ldb, tb, c.data(), n, workspace.data(), accumulate);
        INFO("m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb << " accumulate=" << accumulate);
        // float: a sum of k products of values below 0.5, rounded k times
        const double tolerance = std::is_same_v<T, double> ? 1e-12 : 2e-6 * (k + 1);
        double worst = 0.0;
        for (std::size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::abs(c[i] - expected[i]));
        CHECK(worst <= tolerance);
        }
      }
    }
  }
}
