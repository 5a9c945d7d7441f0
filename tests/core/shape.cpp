// Tests for strata/core/shape.hpp.
#include <doctest/doctest.h>

#include <strata/strata.hpp>

using namespace strata;

static_assert(Shape<3, 64, 64>::size == 3 * 64 * 64);
static_assert(Shape<3, 64, 32>::dims == Dims{3, 64, 32});
static_assert(Dims{2, 3, 4}.plane() == 12);

TEST_CASE("Dims prints as CxHxW") { CHECK(Dims{3, 64, 32}.to_string() == "3x64x32"); }
