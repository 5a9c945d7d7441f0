// Tests for strata/core/bfloat16.hpp: rounding float to bfloat16 (the same function the CUDA
// kernels and the bf16 uploads call), and the scalar types of a bfloat16 model.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <ios>
#include <limits>

#include <strata/core/bfloat16.hpp>

using namespace strata;

namespace {

float float_of(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest, ties to even, worked out from the two bfloat16 neighbours of f in double.
std::uint16_t nearest_bfloat16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const auto low = static_cast<std::uint16_t>(u >> 16);  // toward zero
  const auto high = static_cast<std::uint16_t>(low + 1);  // away from zero (may be infinity)
  if ((u & 0xffffu) == 0) return low;
  const double magnitude = std::fabs(static_cast<double>(f));
  const double below = std::fabs(static_cast<double>(float_of(static_cast<std::uint32_t>(low) << 16)));
  // Past the largest finite bfloat16 the next value up is 2^128 (IEEE rounds to infinity there).
  const bool high_is_infinite = (high & 0x7f80u) == 0x7f80u;
  const double above =
      high_is_infinite ? std::ldexp(1.0, 128) : std::fabs(static_cast<double>(float_of(static_cast<std::uint32_t>(high) << 16)));
  const double to_below = magnitude - below, to_above = above - magnitude;
  if (to_below < to_above) return low;
  if (to_above < to_below) return high;
  return (low & 1u) == 0 ? low : high;
}

}  // namespace

TEST_CASE("bfloat16 rounds to nearest, ties to even, for every upper half and the low halves that matter") {
  const std::uint32_t lows[] = {0x0000u, 0x0001u, 0x3fffu, 0x7fffu, 0x8000u, 0x8001u, 0xc000u, 0xffffu};
  std::size_t checked = 0;
  for (std::uint32_t upper = 0; upper <= 0xffffu; ++upper) {
    for (std::uint32_t low : lows) {
      const std::uint32_t bits = (upper << 16) | low;
      const float f = float_of(bits);
      const bfloat16 b(f);
      if (std::isnan(f)) {
        CHECK(std::isnan(static_cast<float>(b)));
        CHECK(std::signbit(static_cast<float>(b)) == std::signbit(f));
        continue;
      }
      if (b.bits != nearest_bfloat16(f)) {
        INFO("float bits 0x" << std::hex << bits);
        CHECK(b.bits == nearest_bfloat16(f));
      }
      ++checked;
    }
  }
  CHECK(checked > 500000);
}

TEST_CASE("bfloat16 holds what it should exactly and rounds the rest") {
  for (float exact : {0.0f, -0.0f, 1.0f, -2.0f, 0.5f, 3.0f, 255.0f, 1.0f / 128, 65536.0f})
    CHECK(static_cast<float>(bfloat16(exact)) == exact);
  CHECK(std::signbit(static_cast<float>(bfloat16(-0.0f))));
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa, 1.
  CHECK(static_cast<float>(bfloat16(1.0f + 1.0f / 256)) == 1.0f);
  CHECK(static_cast<float>(bfloat16(1.0f + 3.0f / 256)) == 1.0f + 1.0f / 64);
  // A pixel value k/255 keeps about 3 significant digits.
  for (int k = 0; k <= 255; ++k) {
    const float v = static_cast<float>(k) / 255.0f;
    CHECK(std::fabs(static_cast<float>(bfloat16(v)) - v) <= v * (1.0f / 256));
  }
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(static_cast<float>(bfloat16(inf)) == inf);
  CHECK(static_cast<float>(bfloat16(-inf)) == -inf);
  CHECK(static_cast<float>(bfloat16(std::numeric_limits<float>::max())) == inf);  // beyond bfloat16's largest
  // A signalling NaN comes back quiet, not as infinity (its payload is in the dropped half).
  CHECK(std::isnan(static_cast<float>(bfloat16(float_of(0x7f800001u)))));
  CHECK(bfloat16::from_bits(0x3f80).bits == 0x3f80);
  CHECK(static_cast<float>(bfloat16::from_bits(0x3f80)) == 1.0f);
}

TEST_CASE("a bfloat16 model keeps parameters and host data in float; other scalars keep their own") {
  static_assert(std::is_same_v<parameter_t<bfloat16>, float>);
  static_assert(std::is_same_v<parameter_t<const bfloat16>, float>);
  static_assert(std::is_same_v<parameter_t<float>, float>);
  static_assert(std::is_same_v<parameter_t<double>, double>);
  static_assert(std::is_same_v<compute_t<bfloat16>, float>);
  CHECK(static_cast<float>(to_scalar<bfloat16>(0.1)) == static_cast<float>(bfloat16(0.1f)));
  CHECK(to_scalar<double>(0.25f) == 0.25);
}
