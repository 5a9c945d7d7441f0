// Tests for strata/core/packed.hpp: where values may move four at a time, the index arithmetic
// the CUDA backend's packed element-wise kernels (bias.cuh, upsample.cuh, max_pool.cuh) rely on
// (pack q of a row holds pixels 4q .. 4q + 3 of it; channels last with channels a multiple of 4,
// pack q holds four neighbouring channels of one pixel), and write_plane / write_image replayed
// for a block's 256 threads: every value written once, with its own position's value.
#include <doctest/doctest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include <strata/core/bfloat16.hpp>
#include <strata/core/layout.hpp>
#include <strata/core/packed.hpp>

using namespace strata;

TEST_CASE("Pack4 is four values, aligned to its size: 8 bytes of bf16, 16 of float") {
  static_assert(sizeof(Pack4<bfloat16>) == 8 && alignof(Pack4<bfloat16>) == 8);
  static_assert(sizeof(Pack4<float>) == 16 && alignof(Pack4<float>) == 16);
  alignas(16) float values[12] = {};
  CHECK(packable(values, 12));
  CHECK(packable(values + 4, 8));
  CHECK_FALSE(packable(values + 1, 8));  // 4 bytes off a 16-byte boundary
  CHECK_FALSE(packable(values, 10));     // not a multiple of 4
  alignas(8) bfloat16 halves[8] = {};
  CHECK(packable(halves, 8));
  CHECK(packable(halves + 4, 4));
  CHECK_FALSE(packable(halves + 2, 4));
}

TEST_CASE("a packed kernel's pack q holds the values its scalar loop would give r = 4q .. 4q + 3") {
  // Rows a multiple of 4 long (channels first): row_pack(q, w) gives row r / w, columns r % w.
  for (int w : {4, 8, 32, 64})
    for (int h : {1, 3, 16})
      for (int q = 0; q < w * h / 4; ++q)
        for (int j = 0; j < 4; ++j) {
          const int r = 4 * q + j;
          const RowPack at = row_pack(q, w);
          CHECK(at.row == r / w);
          CHECK(at.column + j == r % w);
        }
  // Channels last with channels a multiple of 4: value 4q + j is channel channel_at(4q) + j of
  // pixel pixel_at(4q).
  for (int c : {4, 8, 32, 128}) {
    const ImageLayout o = ImageLayout::of(Dims{c, 5, 6}, true);
    for (int q = 0; q < o.image_size() / 4; ++q)
      for (int j = 0; j < 4; ++j) {
        CHECK(o.pixel_at(4 * q + j) == o.pixel_at(4 * q));
        CHECK(o.channel_at(4 * q + j) == o.channel_at(4 * q) + j);
      }
  }
  // The launches size their grids by the items a kernel has: a quarter of the values when packed.
  alignas(16) float images[2 * 8 * 2 * 3] = {};
  CHECK(channel_pack_items(images, 8, 48) == 12);
  CHECK(channel_pack_items(images, 6, 36) == 36);      // channels not a multiple of 4
  CHECK(channel_pack_items(images + 1, 8, 48) == 48);  // not aligned
}

namespace {

// Position (a, b) as a value that names it.
float named(int a, int b) { return static_cast<float>(a * 1000 + b); }

}  // namespace

TEST_CASE("write_plane and write_image, replayed for 256 threads, write each value once with its position's value") {
  constexpr int kThreads = 256;
  alignas(16) static float buffer[4 + 64 * 70];
  for (const int offset : {0, 1})  // aligned, and one float off (no packs)
    for (const auto& [h, w] : {std::pair{5, 8}, std::pair{3, 6}, std::pair{64, 64}, std::pair{7, 4}}) {
      CAPTURE(offset);
      CAPTURE(h);
      CAPTURE(w);
      float* target = buffer + offset;
      std::fill(target, target + h * w, -1.0f);
      std::vector<int> writes(static_cast<std::size_t>(h * w), 0);
      for (int t = 0; t < kThreads; ++t)
        write_plane(target, h, w, t, kThreads, [&](int row, int column) {
          ++writes[static_cast<std::size_t>(row * w + column)];
          return named(row, column);
        });
      for (int r = 0; r < h * w; ++r) {
        CHECK(writes[static_cast<std::size_t>(r)] == 1);
        CHECK(target[r] == named(r / w, r % w));
      }
    }
  for (const int offset : {0, 1})
    for (const int c : {4, 8, 6, 3}) {
      CAPTURE(offset);
      CAPTURE(c);
      const ImageLayout o = ImageLayout::of(Dims{c, 5, 7}, true);
      float* target = buffer + offset;
      std::fill(target, target + o.image_size(), -1.0f);
      for (int t = 0; t < kThreads; ++t)
        write_image(target, o, t, kThreads, [](int pixel, int channel) { return named(pixel, channel); });
      for (int r = 0; r < o.image_size(); ++r) CHECK(target[r] == named(o.pixel_at(r), o.channel_at(r)));
    }
}

namespace {

// Replays copy_runs_kernel's items over `copy`, whose `to` lies in `buffer`, and checks every value
// of the buffer: each run's values from `from_values` (which holds `copy.from` at from_offset),
// written by exactly one item; everything else left at -1.
template <class T>
void check_run_copy(const RunCopy<T>& copy, std::size_t from_offset, const std::vector<T>& from_values, T* buffer,
                    std::size_t buffer_size) {
  const auto value = [&](std::size_t j) { return static_cast<float>(buffer[j]); };
  const auto per_row = static_cast<unsigned>(copy.items_per_row());
  const auto replay = [&](unsigned i) {
    if (copy.packed()) copy.template copy_item<true>(i, per_row);
    else copy.template copy_item<false>(i, per_row);
  };
  std::vector<int> writes(buffer_size, 0);
  for (unsigned i = 0; i < copy.items(); ++i) {  // one item at a time: what each one writes
    std::fill(buffer, buffer + buffer_size, T(-1.0f));
    replay(i);
    for (std::size_t j = 0; j < buffer_size; ++j) writes[j] += value(j) != -1.0f;
  }
  std::fill(buffer, buffer + buffer_size, T(-1.0f));
  for (unsigned i = 0; i < copy.items(); ++i) replay(i);
  const auto to_offset = static_cast<std::size_t>(copy.to - buffer);
  for (std::size_t j = 0; j < buffer_size; ++j) {
    const std::size_t row = (j - to_offset) / copy.to_pitch, column = (j - to_offset) % copy.to_pitch;
    const bool inside = j >= to_offset && row < copy.rows && column < copy.run;
    CAPTURE(j);
    CHECK(writes[j] == (inside ? 1 : 0));
    CHECK(value(j) == (inside ? static_cast<float>(from_values[from_offset + row * copy.from_pitch + column]) : -1.0f));
  }
}

}  // namespace

TEST_CASE("RunCopy, replayed item by item as copy_runs_kernel runs it, writes each run's values once and nothing else") {
  // A Concat join channels last: runs of a pixel's channels into rows of the joined channels,
  // packed where runs, pitches and starts allow, value by value where any of them does not.
  struct Case {
    std::size_t run, from_pitch, to_pitch;
    int from_offset, to_offset;
    bool packed;
  };
  const std::size_t rows = 7;
  SUBCASE("float: Pack4 is 16 bytes") {
    alignas(16) static float from[4 + 7 * 20], to[4 + 7 * 24];
    for (std::size_t i = 0; i < std::size(from); ++i) from[i] = static_cast<float>(i);
    const std::vector<float> from_values(std::begin(from), std::end(from));
    for (const Case& k : {Case{8, 8, 12, 0, 0, true}, Case{8, 8, 12, 0, 4, true}, Case{4, 20, 24, 4, 0, true},
                          Case{3, 3, 5, 0, 0, false}, Case{8, 8, 12, 1, 0, false}, Case{8, 8, 12, 0, 2, false},
                          Case{4, 6, 8, 0, 0, false}, Case{4, 8, 10, 0, 0, false}}) {
      CAPTURE(k.run);
      CAPTURE(k.from_pitch);
      CAPTURE(k.to_pitch);
      CAPTURE(k.from_offset);
      CAPTURE(k.to_offset);
      std::fill(std::begin(to), std::end(to), -1.0f);
      const RunCopy<float> copy{to + k.to_offset, k.to_pitch, from + k.from_offset, k.from_pitch, k.run, rows};
      CHECK(copy.packed() == k.packed);
      CHECK(copy.items() == rows * k.run / (k.packed ? 4 : 1));
      check_run_copy(copy, static_cast<std::size_t>(k.from_offset), from_values, to, std::size(to));
    }
  }
  SUBCASE("bfloat16: Pack4 is 8 bytes") {
    alignas(16) static bfloat16 from[4 + 7 * 20], to[4 + 7 * 24];
    for (std::size_t i = 0; i < std::size(from); ++i) from[i] = bfloat16(static_cast<float>(i));
    const std::vector<bfloat16> from_values(std::begin(from), std::end(from));
    for (const Case& k : {Case{8, 8, 12, 0, 4, true}, Case{4, 20, 24, 4, 0, true}, Case{8, 8, 12, 2, 0, false},
                          Case{8, 8, 12, 0, 1, false}, Case{6, 6, 8, 0, 0, false}}) {
      CAPTURE(k.run);
      CAPTURE(k.from_offset);
      CAPTURE(k.to_offset);
      std::fill(std::begin(to), std::end(to), bfloat16(-1.0f));
      const RunCopy<bfloat16> copy{to + k.to_offset, k.to_pitch, from + k.from_offset, k.from_pitch, k.run, rows};
      CHECK(copy.packed() == k.packed);  // 4 bf16 values = 8 bytes: an offset of 4 packs, of 2 does not
      check_run_copy(copy, static_cast<std::size_t>(k.from_offset), from_values, to, std::size(to));
    }
  }
  alignas(16) static float a[8], b[8];
  // 2^31 rows of 8 floats: 2^32 packs, one more than 32 bits count; 2^30 rows: 2^31 packs.
  CHECK_FALSE((RunCopy<float>{a, 8, b, 8, 8, std::size_t{1} << 31}.fits32()));
  CHECK((RunCopy<float>{a, 8, b, 8, 8, std::size_t{1} << 30}.fits32()));
}
