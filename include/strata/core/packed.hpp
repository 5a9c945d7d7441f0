// strata/core/packed.hpp: four neighbouring values moved as one access.
//
// The CUDA backend's element-wise kernels read and write activations one value per thread and
// loop: with 2-byte bf16 values a warp's load moves 64 bytes, too few in flight to keep an H200's
// memory busy (its bias + ReLU pass ran at about 1.5 TB/s in the 2026-11-30 profile). Where a run
// of values is a multiple of four long and its start is aligned to four values, a thread moves
// Pack4<T> instead: 8 bytes of bf16 or 16 of float in one instruction. packable() says where.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "strata/core/host_device.hpp"
#include "strata/core/layout.hpp"

namespace strata {

template <class T>
struct alignas(4 * sizeof(T)) Pack4 {
  T v[4];
};
static_assert(std::is_trivially_copyable_v<Pack4<float>> && sizeof(Pack4<float>) == 16);

// Whether the n values at p can be moved as n / 4 packs.
template <class T>
STRATA_HOST_DEVICE inline bool packable(const T* p, std::size_t n) {
  return n % 4 == 0 && reinterpret_cast<std::uintptr_t>(p) % sizeof(Pack4<T>) == 0;
}

// Pack q of a plane whose rows are `width` values long (a multiple of 4): its row, and the column
// of its first value.
struct RowPack {
  int row;
  int column;
};
STRATA_HOST_DEVICE inline RowPack row_pack(int q, int width) { return {q / (width / 4), (q % (width / 4)) * 4}; }

// How many items a channels-last kernel that packs four neighbouring channels where it can
// (channels a multiple of 4, the first image aligned: then every image is) has per image.
template <class T>
STRATA_HOST_DEVICE inline std::size_t channel_pack_items(const T* first_image, int channels, std::size_t values) {
  return channels % 4 == 0 && packable(first_image, values) ? values / 4 : values;
}

// The loops of the packed kernels (upsample.cuh, max_pool.cuh), for a block's threads: thread
// `first` of `stride` takes items first, first + stride, ...

// Writes value(row, column) to each value of the height x width plane at `target`: an item is a
// value, or where the rows allow (width a multiple of 4, target aligned) four neighbouring
// columns of a row written as one Pack4.
template <class T, class Value>
STRATA_HOST_DEVICE inline void write_plane(T* target, int height, int width, int first, int stride, Value&& value) {
  const int plane = height * width;
  if (width % 4 == 0 && packable(target, static_cast<std::size_t>(plane))) {
    for (int q = first; q < plane / 4; q += stride) {
      const RowPack at = row_pack(q, width);
      Pack4<T> v;
      for (int j = 0; j < 4; ++j) v.v[j] = value(at.row, at.column + j);
      reinterpret_cast<Pack4<T>*>(target)[q] = v;
    }
    return;
  }
  for (int r = first; r < plane; r += stride) target[r] = value(r / width, r % width);
}

// Channels last: writes value(pixel, channel) to each value of the image at `target` (laid out
// as `o`): an item is a value, or where the channels are a multiple of 4 (and target aligned)
// four neighbouring channels of a pixel written as one Pack4.
template <class T, class Value>
STRATA_HOST_DEVICE inline void write_image(T* target, ImageLayout o, int first, int stride, Value&& value) {
  const int size = o.image_size();
  if (o.channels % 4 == 0 && packable(target, static_cast<std::size_t>(size))) {
    for (int q = first; q < size / 4; q += stride) {
      const int p = o.pixel_at(4 * q), c = o.channel_at(4 * q);
      Pack4<T> v;
      for (int j = 0; j < 4; ++j) v.v[j] = value(p, c + j);
      reinterpret_cast<Pack4<T>*>(target)[q] = v;
    }
    return;
  }
  for (int r = first; r < size; r += stride) target[r] = value(o.pixel_at(r), o.channel_at(r));
}

// A strided copy: `rows` runs of `run` values, row r of `from` (rows from_pitch values apart) to
// row r of `to` (to_pitch apart). A Concat block's join and split are such copies (ChannelRuns);
// channels last their runs are a pixel's few channels, for which the CUDA backend runs
// copy_runs_kernel (backend/cuda/concat.cuh) with a thread per item: one value, or, where the
// runs and pitches are multiples of 4 and both starts aligned, four neighbouring values of a run
// moved as one Pack4. Items are counted in 32 bits (a 64-bit division per item is several times
// slower than the memory traffic on a GPU): fits32() says whether a copy's items can be.
template <class T>
struct RunCopy {
  T* to;
  std::size_t to_pitch;
  const T* from;
  std::size_t from_pitch;
  std::size_t run;
  std::size_t rows;

  STRATA_HOST_DEVICE bool packed() const {
    return run % 4 == 0 && to_pitch % 4 == 0 && from_pitch % 4 == 0 && packable(to, 4) &&
           packable(from, 4);
  }
  STRATA_HOST_DEVICE std::size_t items_per_row() const { return packed() ? run / 4 : run; }
  STRATA_HOST_DEVICE std::size_t items() const { return rows * items_per_row(); }
  STRATA_HOST_DEVICE bool fits32() const { return items() <= 0xffffffffu; }

  // Item i of items(); per_row is items_per_row() (hoisted out of the kernel's loop).
  template <bool Packed>
  STRATA_HOST_DEVICE void copy_item(unsigned i, unsigned per_row) const {
    const std::size_t row = i / per_row, column = (i % per_row) * (Packed ? 4u : 1u);
    if constexpr (Packed)
      *reinterpret_cast<Pack4<T>*>(to + row * to_pitch + column) =
          *reinterpret_cast<const Pack4<T>*>(from + row * from_pitch + column);
    else
      to[row * to_pitch + column] = from[row * from_pitch + column];
  }
};

}  // namespace strata
