// Tests for strata/backend/cpu/gemm.hpp: every transposition against a naive product.
#include <doctest/doctest.h>

#include <vector>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("gemm_accumulate adds op(A) * op(B) for every transposition and odd sizes") {
  SplitMix rng(2);
  for (const auto [m, n, k] : {std::array{1, 1, 1}, std::array{7, 5, 3}, std::array{33, 70, 129}, std::array{3, 200, 17}}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        std::vector<double> a(static_cast<std::size_t>(m) * k), b(static_cast<std::size_t>(k) * n),
            c(static_cast<std::size_t>(m) * n);
        for (double& v : a) v = rng.uniform() - 0.5;
        for (double& v : b) v = rng.uniform() - 0.5;
        for (double& v : c) v = rng.uniform();
        std::vector<double> expected = c;
        // A stored as m x k (or k x m when transposed), B as k x n (or n x k).
        const int lda = ta ? m : k;
        const int ldb = tb ? k : n;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j)
            for (int p = 0; p < k; ++p)
              expected[i * n + j] += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
        std::vector<double> workspace(cpu::gemm_workspace_floats(m, n, k));
        cpu::gemm_accumulate(m, n, k, a.data(), lda, ta, b.data(), ldb, tb, c.data(), n, workspace.data());
        INFO("m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb);
        for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == doctest::Approx(expected[i]).epsilon(1e-12));
      }
    }
  }
}
