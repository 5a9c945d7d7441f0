// Tests for strata/core/output_sums.hpp and Model::output_sums: per image, the binary-accuracy
// matches and the error over a rectangle, against a plain recount.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include <strata/core/output_sums.hpp>
#include <strata/strata.hpp>

#include "support/networks.hpp"
#include "support/synthetic_images.hpp"

using namespace strata;

namespace {

// The sums counted the obvious way: std::round for accuracy, nested loops over the rectangle.
OutputSums recount(const float* p, const float* t, Dims d, const BlankRectangle& r) {
  OutputSums s;
  for (std::size_t i = 0; i < d.size(); ++i) s.matching += std::round(p[i]) == std::round(t[i]) ? 1.0 : 0.0;
  for (int c = 0; c < d.c; ++c)
    for (int y = r.top; y < r.top + r.height; ++y)
      for (int x = r.left; x < r.left + r.width; ++x) {
        const std::size_t i = (static_cast<std::size_t>(c) * d.h + y) * d.w + x;
        const double diff = static_cast<double>(p[i]) - static_cast<double>(t[i]);
        s.l1 += std::abs(diff);
        s.l2 += diff * diff;
      }
  return s;
}

}  // namespace

TEST_CASE("image_output_sums counts matches over the image and the error over the rectangle only") {
  const Dims d{3, 7, 9};
  const BlankRectangle r{.top = 2, .left = 3, .height = 4, .width = 5};
  const auto p = testing::synthetic_images(2, d, 3);
  auto t = testing::synthetic_images(2, d, 4);
  t[0] = 0.5f;  // a tie rounds away from zero on both sides: round(0.5) = 1
  for (int n = 0; n < 2; ++n) {
    const OutputSums got = image_output_sums(p.data() + n * d.size(), t.data() + n * d.size(), d, r);
    const OutputSums want = recount(p.data() + n * d.size(), t.data() + n * d.size(), d, r);
    CHECK(got.matching == want.matching);
    CHECK(got.l1 == want.l1);  // the same order of additions
    // The same too, but a compiler may fuse diff * diff into the sum (FMA) in one loop and not in
    // the other (the sanitizer build did, once rectangle_value_offset had a layout branch).
    CHECK(got.l2 == doctest::Approx(want.l2).epsilon(1e-14));
    CHECK(got.matching > 0.0);
    CHECK(got.matching < static_cast<double>(d.size()));
  }
  // Values outside the rectangle change the matches, not the error.
  auto moved = p;
  moved[0] = 1.0f - moved[0] > 0.5f ? 1.0f : 0.0f;
  const OutputSums before = image_output_sums(p.data(), t.data(), d, r);
  const OutputSums after = image_output_sums(moved.data(), t.data(), d, r);
  CHECK(after.matching != before.matching);
  CHECK(after.l1 == before.l1);
  CHECK(after.l2 == before.l2);
}

TEST_CASE("Model::output_sums describes the last train_step or evaluate against its own target") {
  using Net = testing::TinyAutoencoder;
  const int batch = 3;
  Model<Net, Cpu> model(batch, 2, ModelOptions{.threads = 1});
  const auto images = testing::synthetic_images(batch, Net::input_shape::dims, 11);
  const BlankRectangle hole{.top = 4, .left = 5, .height = 6, .width = 7, .fill = 0.0f};
  std::vector<OutputSums> sums(batch);
  CHECK_THROWS_AS(model.output_sums(hole, sums), std::logic_error);  // nothing run yet

  Adam adam;
  model.train_step(images, hole, batch, BinaryCrossEntropy{}, adam);
  model.output_sums(hole, sums);
  const Dims d = Net::output_shape::dims;
  for (int n = 0; n < batch; ++n) {
    const OutputSums want = recount(model.output().sample(n), images.data() + n * d.size(), d, hole);
    CHECK(sums[n].matching == want.matching);
    CHECK(sums[n].l1 == want.l1);
    CHECK(sums[n].l2 == want.l2);
  }

  // evaluate with a distinct target: the sums use that target.
  const auto target = testing::synthetic_images(2, d, 12);
  model.evaluate(std::span<const float>(images).first(2 * d.size()), target, 2, BinaryCrossEntropy{});
  model.output_sums(hole, sums);
  for (int n = 0; n < 2; ++n) {
    const OutputSums want = recount(model.output().sample(n), target.data() + n * d.size(), d, hole);
    CHECK(sums[n].matching == want.matching);
    CHECK(sums[n].l1 == want.l1);
    CHECK(sums[n].l2 == want.l2);
  }

  std::vector<OutputSums> one(1);
  CHECK_THROWS_AS(model.output_sums(hole, one), std::invalid_argument);  // the last batch had 2 images
  CHECK_THROWS_AS(model.output_sums(BlankRectangle{.top = 12, .left = 0, .height = 8, .width = 8}, sums),
                  std::invalid_argument);
  std::vector<float> out(2 * d.size());
  model.predict(std::span<const float>(images).first(2 * d.size()), 2, out);
  CHECK_THROWS_AS(model.output_sums(hole, sums), std::logic_error);  // predict has no target
}
