// Tests for strata/core/random.hpp.
#include <doctest/doctest.h>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("uniform01 is deterministic, in [0, 1), and roughly uniform") {
  double sum = 0.0;
  int low = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float u = uniform01(42, 3, i);
    CHECK(u == uniform01(42, 3, i));
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    sum += u;
    low += u < 0.25f;
  }
  CHECK(sum / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(static_cast<double>(low) / n == doctest::Approx(0.25).epsilon(0.02));
  CHECK(uniform01(42, 3, 0) != uniform01(43, 3, 0));
  CHECK(uniform01(42, 3, 0) != uniform01(42, 4, 0));
}

TEST_CASE("dropout_stream differs per step and per layer, and is what the CPU backend draws from") {
  CHECK(dropout_stream(5, 2) == (mix64(5) ^ 2u));
  CHECK(dropout_stream(5, 2) != dropout_stream(6, 2));
  CHECK(dropout_stream(5, 2) != dropout_stream(5, 3));
  CHECK(cpu::dropout_stream(StepInfo{.step = 5}, 2) == dropout_stream(5, 2));
  static_assert(dropout_stream(1, 0) == mix64(1), "usable in constant expressions, as on the device");
}
