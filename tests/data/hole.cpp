// Tests for strata/data/hole.hpp.
#include <doctest/doctest.h>

#include <vector>

#include <strata/data/hole.hpp>

using strata::data::Hole;

TEST_CASE("the default hole is the IFT6266 centre: rows and columns 16..47 of 64") {
  const Hole h{};
  CHECK(h.contains(16, 16));
  CHECK(h.contains(47, 47));
  CHECK(!h.contains(15, 30));
  CHECK(!h.contains(30, 48));
  CHECK(Hole::centred(64, 32).top == 16);
  const auto w = h.pixel_weights(64, 64);
  double sum = 0;
  for (float v : w) sum += v;
  CHECK(sum == 32 * 32);
  CHECK(w[16 * 64 + 16] == 1.0f);
  CHECK(w[15 * 64 + 16] == 0.0f);
}

TEST_CASE("blank zeroes the hole in every channel and nothing else") {
  const Hole h{1, 2, 2, 3};
  std::vector<float> image(2 * 4 * 6, 1.0f);
  h.blank(image.data(), 2, 4, 6);
  int zeros = 0;
  for (float v : image) zeros += v == 0.0f;
  CHECK(zeros == 2 * 2 * 3);
  CHECK(image[1 * 6 + 2] == 0.0f);
  CHECK(image[24 + 2 * 6 + 4] == 0.0f);
  CHECK(image[1 * 6 + 1] == 1.0f);
  CHECK_THROWS_AS((Hole{60, 60, 8, 8}.validate(64, 64)), std::invalid_argument);
  CHECK_THROWS_AS((Hole{0, 0, 0, 8}.validate(64, 64)), std::invalid_argument);
  // The rule and the words of the rectangle the model blanks, naming the hole.
  CHECK_THROWS_WITH_AS((Hole{60, 60, 8, 8}.validate(64, 64)), "hole 8x8 at (60, 60) does not fit in a 64x64 image",
                       std::invalid_argument);
  CHECK_NOTHROW(Hole{56, 56, 8, 8}.validate(64, 64));
}
