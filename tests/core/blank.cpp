// Tests for strata/core/blank.hpp: which pixels a blanked rectangle covers, and its checks.
#include <doctest/doctest.h>

#include <set>

#include <strata/core/blank.hpp>

using namespace strata;

TEST_CASE("blank_pixel_offset walks the rectangle's pixels row by row, each once, and no other") {
  const Dims d{2, 7, 9};
  const BlankRectangle r{.top = 2, .left = 3, .height = 4, .width = 5};
  std::set<std::size_t> seen;
  std::size_t previous = 0;
  for (int i = 0; i < r.pixels(); ++i) {
    const std::size_t offset = blank_pixel_offset(r.top, r.left, r.width, d.w, i);
    const int y = static_cast<int>(offset) / d.w, x = static_cast<int>(offset) % d.w;
    CHECK(y >= r.top);
    CHECK(y < r.top + r.height);
    CHECK(x >= r.left);
    CHECK(x < r.left + r.width);
    if (i > 0) CHECK(offset > previous);
    previous = offset;
    seen.insert(offset);
  }
  CHECK(seen.size() == 20);
}

TEST_CASE("a blanked rectangle must be non-empty and inside the image") {
  const Dims d{3, 64, 64};
  CHECK(BlankRectangle{.top = 16, .left = 16, .height = 32, .width = 32}.check(d).empty());
  CHECK(BlankRectangle{.top = 0, .left = 0, .height = 64, .width = 64}.check(d).empty());
  CHECK(BlankRectangle{.top = 40, .left = 16, .height = 32, .width = 32}.check(d) ==
        "the blanked rectangle 32x32 at (40, 16) does not fit in a 64x64 image");
  CHECK_FALSE(BlankRectangle{.top = 0, .left = -1, .height = 2, .width = 2}.check(d).empty());
  CHECK_FALSE(BlankRectangle{.top = 0, .left = 0, .height = 0, .width = 2}.check(d).empty());
}
