// Tests for strata/core/compile_text.hpp.
#include <doctest/doctest.h>

#include <strata/strata.hpp>

using namespace strata;

static_assert((CompileText("a") + 12 + "x" + -3).view() == "a12x-3");
static_assert(CompileText().empty());

TEST_CASE("CompileText truncates instead of overflowing") {
  CompileText t;
  for (int i = 0; i < 100; ++i) t.append("abc");
  CHECK(t.length == CompileText::capacity - 1);
  CHECK(t.str().size() == static_cast<std::size_t>(CompileText::capacity - 1));
}
