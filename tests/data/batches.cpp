// Tests for strata/data/batches.hpp and strata/data/procedural.hpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include <strata/data/batches.hpp>
#include <strata/data/procedural.hpp>

using namespace strata::data;

TEST_CASE("generated scenes are deterministic and differ from each other") {
  const ImageSet a = procedural_images(4, 10, 32), b = procedural_images(4, 10, 32);
  CHECK(a.pixels == b.pixels);
  CHECK(!std::equal(a.image(0).begin(), a.image(0).end(), a.image(1).begin()));
  CHECK(a.names[2] == "generated:12");
  // Not flat: a fair spread of values.
  int lo = 255, hi = 0;
  for (auto v : a.image(0)) lo = std::min<int>(lo, v), hi = std::max<int>(hi, v);
  CHECK(hi - lo > 60);
}

TEST_CASE("the prefetcher yields the epoch's batches in order: masked input, whole target") {
  const ImageSet set = procedural_images(10, 0, 16);
  const Hole hole = Hole::centred(16, 8);
  BatchPrefetcher batches(set, 4, hole);
  for (int epoch = 0; epoch < 2; ++epoch) {  // restartable
    const std::vector<std::size_t> order{9, 3, 0, 7, 1, 2, 8, 6, 5, 4};
    batches.start(order, 4);
    REQUIRE(batches.batch_count() == 3);
    std::vector<float> input(4 * set.image_bytes()), target(input.size());
    for (int k = 0; k < 3; ++k) {
      const auto b = batches.next();
      const int expected_size = k < 2 ? 4 : 2;
      REQUIRE(b.size == expected_size);
      REQUIRE(b.indices.size() == static_cast<std::size_t>(expected_size));
      CHECK(b.indices[0] == order[k * 4]);
      fill_batch(set, b.indices, hole, input.data(), target.data());
      CHECK(std::equal(b.input.begin(), b.input.end(), input.begin()));
      CHECK(std::equal(b.target.begin(), b.target.end(), target.begin()));
    }
  }
}

TEST_CASE("the prefetcher hands its six batch buffers, page-aligned, to a GPU's lock and keeps the locks") {
  const ImageSet set = procedural_images(10, 0, 16);
  int locked = 0, released = 0;
  std::vector<std::span<float>> buffers;
  {
    BatchPrefetcher batches(set, 4, Hole::centred(16, 8));
    batches.lock_buffers([&](std::span<float> memory) {
      buffers.push_back(memory);
      ++locked;
      return std::shared_ptr<void>(memory.data(), [&](void*) { ++released; });
    });
    REQUIRE(locked == 6);
    for (const auto& b : buffers) {
      CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 4096 == 0);  // no page shared with another buffer
      CHECK(b.size() == 4 * set.image_bytes());
    }
    // The batches handed out lie in those buffers, and training goes on as before.
    batches.start({0, 1, 2, 3, 4, 5}, 4);
    for (int k = 0; k < 2; ++k) {
      const auto b = batches.next();
      const bool inside = std::any_of(buffers.begin(), buffers.end(),
                                      [&](std::span<float> m) { return b.target.data() == m.data(); });
      CHECK(inside);
    }
    CHECK(released == 0);
  }
  CHECK(released == 6);  // with the prefetcher, before its memory
}

TEST_CASE("a batch stays valid while the next one is handed out (the trainer sends that one to the GPU ahead)") {
  const ImageSet set = procedural_images(20, 0, 16);
  const Hole hole = Hole::centred(16, 8);
  BatchPrefetcher batches(set, 4, hole);
  std::vector<std::size_t> order(20);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = (i * 7) % 20;
  batches.start(order, 4);
  std::vector<float> input(4 * set.image_bytes()), target(input.size());
  auto holds = [&](const BatchPrefetcher::Batch& b, int k) {
    fill_batch(set, std::span<const std::size_t>(order).subspan(static_cast<std::size_t>(k) * 4, 4), hole,
               input.data(), target.data());
    return b.indices[0] == order[static_cast<std::size_t>(k) * 4] &&
           std::equal(b.target.begin(), b.target.end(), target.begin()) &&
           std::equal(b.input.begin(), b.input.end(), input.begin());
  };
  auto current = batches.next();
  for (int k = 0; k < 5; ++k) {
    const bool last = k + 1 == 5;
    const auto upcoming = last ? current : batches.next();
    // The producer has had time to fill the batch after `upcoming`: the current one is untouched.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(holds(current, k));
    if (!last) {
      CHECK(holds(upcoming, k + 1));
      CHECK(upcoming.target.data() != current.target.data());
    }
    current = upcoming;
  }
}

TEST_CASE("fill_batch: target in [0, 1] from the bytes, input zero inside the hole only") {
  const ImageSet set = procedural_images(1, 3, 16);
  const Hole hole = Hole::centred(16, 8);
  std::vector<float> input(set.image_bytes()), target(set.image_bytes());
  const std::size_t index[] = {0};
  fill_batch(set, index, hole, input.data(), target.data());
  // CHW: channel 1, row 2, column 5 comes from HWC byte (2 * 16 + 5) * 3 + 1.
  CHECK(target[1 * 256 + 2 * 16 + 5] == doctest::Approx(set.image(0)[(2 * 16 + 5) * 3 + 1] / 255.0));
  CHECK(input[1 * 256 + 2 * 16 + 5] == target[1 * 256 + 2 * 16 + 5]);
  CHECK(input[2 * 256 + 8 * 16 + 8] == 0.0f);
}
