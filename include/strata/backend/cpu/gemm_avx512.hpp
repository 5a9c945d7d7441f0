// strata/backend/cpu/gemm_avx512.hpp: float GEMM for convolution shapes, with AVX-512.
//
// Why: Eigen 3.4's AVX-512 kernel holds a 48x4 tile (12 accumulators), which on the conv shapes
// here (few filters, thousands of pixels) reaches under half of a core's FMA throughput. Two
// kernels, all row-major:
//   gemm<TransposeA>  C[m x n] (+)= op(A)[m x k] * B[k x n] with a 6x64 register tile (24
//                     accumulators; per step of k four loads of B, six broadcasts of A); a
//                     stored B is copied in blocks of 256 x 256 into a caller's workspace, where
//                     it stays in L2 for every tile that reads it; a padded image's patches are
//                     read in place (convolution forward and backward-data)
//   gemm_abt          C[m x n] (+)= A[m x k] * B[n x k]^T with a 4x6 tile of dot products
//                     along k (backward-filter: k is the pixels)
// B is either a stored matrix (DenseRows, DenseRowsT) or the patch matrix of a zero-padded image
// read in place (PaddedPatches, PaddedPatchRows): a stride-1 convolution then needs no column
// matrix (implicit GEMM; conv.hpp). Sums run in a fixed order: results are deterministic.
// Single-threaded, allocation-free.
#pragma once

#if defined(__AVX512F__)
#define STRATA_HAVE_AVX512_GEMM 1

// nvcc's front end (host code of a .cu file built with -march=native) does not know GCC's
// unroll pragma, which GCC needs here; it warns once per use (#1675-D) and ignores it.
#if defined(__NVCC__)
#pragma nv_diag_suppress 1675
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <type_traits>

// GCC 12's AVX-512 intrinsics (_mm512_undefined_ps and what is built on it) initialise a value
// with itself, which -Wuninitialized reports wherever they are inlined into these kernels (GCC
// bug 105593, fixed in GCC 13): thousands of lines in every build log. Off for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace strata::cpu::avx512 {

inline constexpr int kTileRows = 6;
inline constexpr int kTileColumns = 64;   // four vectors of 16 floats
inline constexpr int kPanelColumns = 256;
inline constexpr int kDepthBlock = 256;
inline constexpr int kInPlaceDepth = 64;  // padded patches: the shortest k read in place

// Lane masks for the first `columns` of a 64-column strip.
inline void strip_masks(int columns, __mmask16 (&mask)[4]) {
  for (int v = 0; v < 4; ++v) {
    const int left = columns - 16 * v;
    mask[v] = left >= 16 ? __mmask16(0xFFFF) : left > 0 ? __mmask16((1u << left) - 1) : __mmask16(0);
  }
}

// What a convolution adds around its product: C's row i starts from row_bias[i] (instead of
// zero, when not accumulating), and the final values are stored as max(x, 0) when relu is set
// (ReLU fused into the store: _mm512_max_ps(x, 0) is 0 for NaN, as elementwise::relu).
struct Epilogue {
  const float* row_bias = nullptr;
  bool relu = false;
};

// Where a tile finds B's four vectors at each step of k (tile() below takes either):
// StridedRows: row p at first + p * stride, its vectors one after another (a packed strip).
struct StridedRows {
  const float* row;
  long stride;
  const float* vector(int v) const { return row + 16 * v; }
  void next() { row += stride; }
};

// One tile: rows x columns of C (rows <= 6, columns <= 64) over depth k, B's vectors from `b`
// (StridedRows, PatchWindows). A's element (i, p) is a[i * lda + p], or a[p * lda + i] when
// TransposeA. accumulate: add to C, else overwrite it.
template <int Rows, bool TransposeA, class BSteps>
inline void tile(int k, const float* a, int lda, BSteps b, float* c, int ldc, int columns, bool accumulate,
                 Epilogue e) {
  const float* row_bias = e.row_bias;
  __mmask16 mask[4];
  strip_masks(columns, mask);
  // The loops over the tile are unrolled before GCC splits `acc` into registers; left to its
  // later unrolling, it kept the accumulators on the stack (a store per FMA, half the speed).
  __m512 acc[Rows][4];
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      acc[i][v] = accumulate ? _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v)
                  : row_bias  ? _mm512_set1_ps(row_bias[i])
                              : _mm512_setzero_ps();
  for (int p = 0; p < k; ++p, b.next()) {
    __m512 bv[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) bv[v] = _mm512_maskz_loadu_ps(mask[v], b.vector(v));
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) {
      const __m512 av = _mm512_set1_ps(TransposeA ? a[static_cast<long>(p) * lda + i] : a[static_cast<long>(i) * lda + p]);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
  }
  if (e.relu) {
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[i][v] = _mm512_max_ps(acc[i][v], _mm512_setzero_ps());
  }
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], acc[i][v]);
}

// tile with Rows fixed at compile time for the tile's actual height.
template <bool TransposeA, int Rows = kTileRows, class BSteps>
inline void tile_rows(int rows, int k, const float* a, int lda, const BSteps& b, float* c, int ldc, int columns,
                      bool accumulate, Epilogue e) {
  if constexpr (Rows > 1) {
    if (rows < Rows) return tile_rows<TransposeA, Rows - 1>(rows, k, a, lda, b, c, ldc, columns, accumulate, e);
  }
  tile<Rows, TransposeA>(k, a, lda, b, c, ldc, columns, accumulate, e);
}

// Floats of workspace gemm() needs: one packed block of B.
inline constexpr std::size_t workspace_floats = static_cast<std::size_t>(kDepthBlock) * kPanelColumns;

// B of gemm() as the rows of a row-major matrix (ldb floats apart).
struct DenseRows {
  const float* b;
  int ldb;

  // Copies rows [p0, p0 + depth), columns [col0, col0 + columns) (columns <= 64) into `strip`,
  // 64 floats a row. 256 bytes a row: inline vector copies (a memmove call per row cost 12% of a
  // v1 step).
  void pack(int p0, int depth, int col0, int columns, float* strip) const {
    __mmask16 mask[4];
    strip_masks(columns, mask);
    for (int p = 0; p < depth; ++p) {
      const float* source = b + static_cast<long>(p0 + p) * ldb + col0;
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v)
        _mm512_storeu_ps(strip + p * kTileColumns + 16 * v, _mm512_maskz_loadu_ps(mask[v], source + 16 * v));
    }
  }
};

// B of gemm() as the patch matrix of a zero-padded image, never written out (implicit im2col):
// row (c, ky, kx), column (oy, ox) is image[c][oy + ky][ox + kx] of a channels x padded_h x
// padded_w image, for a stride-1 convolution whose output rows are out_w wide. out_w must be a
// multiple of 16, so that each vector of a strip lies within one output row.
struct PaddedPatches {
  const float* image;
  int kernel;
  int padded_h;
  int padded_w;
  int out_w;

  long row_offset(int p) const {
    const int area = kernel * kernel;
    const int c = p / area, r = p % area;
    return (static_cast<long>(c) * padded_h + r / kernel) * padded_w + r % kernel;
  }

  void pack(int p0, int depth, int col0, int columns, float* strip) const {
    __mmask16 mask[4];
    strip_masks(columns, mask);
    long offset[4];  // where each vector's first output pixel reads, relative to a row's window
    for (int v = 0; v < 4; ++v) {
      const int q = col0 + 16 * v;
      offset[v] = static_cast<long>(q / out_w) * padded_w + q % out_w;
    }
    const int area = kernel * kernel;
    int c = p0 / area, ky = p0 % area / kernel, kx = p0 % kernel;
    for (int p = 0; p < depth; ++p) {
      const float* window = image + (static_cast<long>(c) * padded_h + ky) * padded_w + kx;
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v)
        _mm512_storeu_ps(strip + p * kTileColumns + 16 * v, _mm512_maskz_loadu_ps(mask[v], window + offset[v]));
      if (++kx == kernel) {
        kx = 0;
        if (++ky == kernel) ky = 0, ++c;
      }
    }
  }
};

// B's vectors for a tile read straight from a padded image, unpacked: row p = (channel, ky, kx) of
// its patch matrix (PaddedPatches), stepped along k without divisions; col0 is the tile's first
// column. gemm() runs every row tile of one 64-column strip in turn, so the image rows a strip
// reads (C x kernel rows) are still in L1 or L2 for the next row tile; against packing 256 x 256
// blocks first (stores to L2, read back from L2) this made v1 and v2 inference 3-5% faster and
// training 1-3%. Packing still wins for a short k (the 27 of a 3-channel input with more than
// one row tile).
struct PatchWindows {
  const float* window;
  long offset[4];   // each vector's first output pixel, relative to the window
  int kernel;
  long row_step;    // from one past a row's last kx to the next ky
  long plane_step;  // from one past the last ky to the next channel
  int kx = 0, ky = 0;

  PatchWindows(const PaddedPatches& b, int col0)
      : window(b.image), kernel(b.kernel), row_step(b.padded_w - b.kernel),
        plane_step(static_cast<long>(b.padded_h - b.kernel) * b.padded_w) {
    for (int v = 0; v < 4; ++v) {
      const int q = col0 + 16 * v;
      offset[v] = static_cast<long>(q / b.out_w) * b.padded_w + q % b.out_w;
    }
  }
  const float* vector(int v) const { return window + offset[v]; }
  void next() {
    ++window;
    if (++kx == kernel) {
      kx = 0;
      window += row_step;
      if (++ky == kernel) ky = 0, window += plane_step;
    }
  }
};

// C[m x n] (+)= op(A)[m x k] * B[k x n]; op(A) = A (m x k, lda) or A^T (A is k x m, lda); B one
// of the sources above. `epilogue` adds a convolution's bias where the tiles start (without
// accumulate) and its ReLU where they store the result, instead of in passes of their own. Each
// block of B (up to 256 rows x 256 columns) is first copied into `workspace` as strips of 64
// columns, so a tile reads it contiguously: B's own rows lie thousands of floats apart, and a new
// page per step of k costs a TLB miss each time. Patches of a padded image are read in place
// instead (PatchWindows) unless k is short and there is more than one row tile.
template <bool TransposeA, class Source>
void gemm(int m, int n, int k, const float* a, int lda, const Source& b, float* c, int ldc, bool accumulate,
          float* workspace, Epilogue epilogue = {}) {
  if (k == 0) {
    for (int i = 0; i < m; ++i) {
      float* row = c + static_cast<long>(i) * ldc;
      if (!accumulate) std::fill(row, row + n, epilogue.row_bias ? epilogue.row_bias[i] : 0.0f);
      if (epilogue.relu)
        for (int j = 0; j < n; ++j) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
    }
    return;
  }
  if constexpr (std::is_same_v<Source, PaddedPatches> && !TransposeA) {
    if (m <= kTileRows || k >= kInPlaceDepth) {
      for (int j = 0; j < n; j += kTileColumns) {
        const PatchWindows windows(b, j);
        for (int i0 = 0; i0 < m; i0 += kTileRows)
          tile_rows<false>(std::min(kTileRows, m - i0), k, a + static_cast<long>(i0) * lda, lda, windows,
                           c + static_cast<long>(i0) * ldc + j, ldc, std::min(kTileColumns, n - j), accumulate,
                           {epilogue.row_bias ? epilogue.row_bias + i0 : nullptr, epilogue.relu});
      }
      return;
    }
  }
  for (int n0 = 0; n0 < n; n0 += kPanelColumns) {
    const int panel = std::min(kPanelColumns, n - n0);
    for (int p0 = 0; p0 < k; p0 += kDepthBlock) {
      const int depth = std::min(kDepthBlock, k - p0);
      const bool add = accumulate || p0 > 0;
      const Epilogue block_epilogue{add ? nullptr : epilogue.row_bias, epilogue.relu && p0 + depth == k};
      for (int j = 0; j < panel; j += kTileColumns)
        b.pack(p0, depth, n0 + j, std::min(kTileColumns, panel - j), workspace + static_cast<long>(j) * depth);
      for (int i0 = 0; i0 < m; i0 += kTileRows) {
        const int rows = std::min(kTileRows, m - i0);
        const float* a_block = TransposeA ? a + static_cast<long>(p0) * lda + i0 : a + static_cast<long>(i0) * lda + p0;
        for (int j = 0; j < panel; j += kTileColumns)
          tile_rows<TransposeA>(rows, depth, a_block, lda,
                                StridedRows{workspace + static_cast<long>(j) * depth, kTileColumns},
                                c + static_cast<long>(i0) * ldc + n0 + j, ldc, std::min(kTileColumns, panel - j), add,
                                {block_epilogue.row_bias ? block_epilogue.row_bias + i0 : nullptr,
                                 block_epilogue.relu});
      }
    }
  }
}

template <bool TransposeA>
void gemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, bool accumulate,
          float* workspace) {
  gemm<TransposeA>(m, n, k, a, lda, DenseRows{b, ldb}, c, ldc, accumulate, workspace);
}

// ---- C[m x n] (+)= A[m x k] * B[n x k]^T: both operands' rows run along k ----
// (convolution backward-filter: dW = dY * columns^T, k the pixels). A 4x6 tile of C is 24 dot
// products, each accumulated 16 lanes wide along k and summed across lanes at the end of each
// block of 2048 floats of k, the 24 sums together (lane_sums; one reduction per sum cost 6% of
// the pass at blocks of 1024). B's six rows of a block (in a padded image mostly shifted copies
// of two or three rows) are re-read from L1 or L2 by every row tile of A.
//
// B's rows are read in `segments` pieces of `length` floats: A's pieces lie one after another,
// B's `segment_stride` floats apart (an output row of the convolution, inside a padded image).

inline constexpr int kDotRows = 4;
inline constexpr int kDotColumns = 6;
inline constexpr int kDotDepth = 2048;

// B of gemm_abt() as the rows of a row-major matrix: one segment of k floats.
struct DenseRowsT {
  const float* b;
  int ldb;
  int k;
  const float* base() const { return b; }
  long row_offset(int j) const { return static_cast<long>(j) * ldb; }
  int segments() const { return 1; }
  int length() const { return k; }
  long segment_stride() const { return 0; }
};

// B of gemm_abt() as the patch matrix of a zero-padded image (see PaddedPatches): row (c, ky,
// kx) is out_h segments of out_w floats, one per output row, padded_w apart.
struct PaddedPatchRows {
  PaddedPatches patches;
  int out_h;
  const float* base() const { return patches.image; }
  long row_offset(int j) const { return patches.row_offset(j); }
  int segments() const { return out_h; }
  int length() const { return patches.out_w; }
  long segment_stride() const { return patches.padded_w; }
};

// One block of dot products: rows of A from `a` (lda apart), rows of B at b + b_rows[j]; both
// read over `segments` pieces of `length` floats.
struct DotBlock {
  int segments;
  int length;
  long a_segment_stride;
  const float* a;
  int lda;
  const float* b;
  const long* b_rows;
  long b_segment_stride;
  float* c;
  int ldc;
  bool accumulate;
};

// Lane i of the result is the sum of v[i]'s 16 lanes (a transposing tree: 15 shuffle-pair adds for
// 16 sums, where reducing each vector alone takes 16 x 4).
inline __m512 lane_sums(const __m512 (&v)[16]) {
  __m512 pairs[8], quads[4], halves[2];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)  // per 128-bit lane: v[2i] and v[2i+1] folded to 2 values each
    pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {  // per 128-bit lane: the sums of four vectors' parts in that lane
    const __m512d a = _mm512_castps_pd(pairs[2 * i]), b = _mm512_castps_pd(pairs[2 * i + 1]);
    quads[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  constexpr int even = _MM_SHUFFLE(2, 0, 2, 0), odd = _MM_SHUFFLE(3, 1, 3, 1);
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i)  // 128-bit lanes added in pairs
    halves[i] = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], even),
                              _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], odd));
  return _mm512_add_ps(_mm512_shuffle_f32x4(halves[0], halves[1], even),
                       _mm512_shuffle_f32x4(halves[0], halves[1], odd));
}

// Whole: every piece is a multiple of 16 floats long (no masked loads).
template <int Rows, int Columns, bool Whole>
inline void dot_tile(const DotBlock& d) {
  __m512 acc[Rows][Columns];
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < Columns; ++j) acc[i][j] = _mm512_setzero_ps();
  long b_rows[Columns];
#pragma GCC unroll 8
  for (int j = 0; j < Columns; ++j) b_rows[j] = d.b_rows[j];
  const int length = d.length;
  if (Whole && length <= 32) {
    // Short segments (images 16 or 32 wide): one loop over the whole block, B moving to its next
    // segment every length / 16 steps; A's pieces lie one after another (a_segment_stride is the
    // length wherever a block has several segments). 16-wide: 10% faster than a loop of one step
    // per segment; 64-wide: 2.5% slower, hence both.
    const int steps = d.segments * (length / 16);
    const float* as = d.a;
    const float* bs = d.b;
    int p = 0;
    for (int t = 0; t < steps; ++t, as += 16) {
      __m512 av[Rows];
#pragma GCC unroll 8
      for (int i = 0; i < Rows; ++i) av[i] = _mm512_loadu_ps(as + static_cast<long>(i) * d.lda);
#pragma GCC unroll 8
      for (int j = 0; j < Columns; ++j) {
        __m512 bv = _mm512_loadu_ps(bs + b_rows[j] + p);
        asm("" : "+v"(bv));  // else GCC folds the load into each of the Rows FMAs (Rows loads, not one)
#pragma GCC unroll 8
        for (int i = 0; i < Rows; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
      }
      p += 16;
      if (p == length) p = 0, bs += d.b_segment_stride;
    }
  } else {
    for (int s = 0; s < d.segments; ++s) {
      const float* as = d.a + s * d.a_segment_stride;
      const float* bs = d.b + s * d.b_segment_stride;
      // One loop, the last step masked unless Whole (a lambda for the step would take acc's
      // address and keep it in memory).
      for (int p = 0; p < length; p += 16) {
        const __mmask16 mask = Whole || length - p >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (length - p)) - 1);
        __m512 av[Rows];
#pragma GCC unroll 8
        for (int i = 0; i < Rows; ++i)
          av[i] = Whole ? _mm512_loadu_ps(as + static_cast<long>(i) * d.lda + p)
                        : _mm512_maskz_loadu_ps(mask, as + static_cast<long>(i) * d.lda + p);
#pragma GCC unroll 8
        for (int j = 0; j < Columns; ++j) {
          __m512 bv = Whole ? _mm512_loadu_ps(bs + b_rows[j] + p) : _mm512_maskz_loadu_ps(mask, bs + b_rows[j] + p);
          if constexpr (Whole) asm("" : "+v"(bv));  // as above
#pragma GCC unroll 8
          for (int i = 0; i < Rows; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
        }
      }
    }
  }
  // The Rows x Columns dot products, row-major, reduced 16 at a time.
  constexpr int count = Rows * Columns, groups = (count + 15) / 16;
  alignas(64) float sums[16 * groups];
#pragma GCC unroll 2
  for (int group = 0; group < groups; ++group) {
    __m512 v[16];
#pragma GCC unroll 16
    for (int t = 0; t < 16; ++t) {
      const int flat = 16 * group + t;
      v[t] = flat < count ? acc[flat / Columns][flat % Columns] : _mm512_setzero_ps();
    }
    _mm512_store_ps(sums + 16 * group, lane_sums(v));
  }
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < Columns; ++j) {
      float& out = d.c[static_cast<long>(i) * d.ldc + j];
      out = d.accumulate ? out + sums[i * Columns + j] : sums[i * Columns + j];
    }
}

// dot_tile with Rows x Columns fixed at compile time for the tile's actual size.
template <bool Whole, int Rows = kDotRows, int Columns = kDotColumns>
inline void dot_tile_sized(int rows, int columns, const DotBlock& d) {
  if constexpr (Rows > 1) {
    if (rows < Rows) return dot_tile_sized<Whole, Rows - 1, Columns>(rows, columns, d);
  }
  if constexpr (Columns > 1) {
    if (columns < Columns) return dot_tile_sized<Whole, Rows, Columns - 1>(rows, columns, d);
  }
  dot_tile<Rows, Columns, Whole>(d);
}

// C[m x n] (+)= A[m x k] * B[n x k]^T, B one of the row sources above (k = segments * length).
template <class Rows>
void gemm_abt(int m, int n, const float* a, int lda, const Rows& b, float* c, int ldc, bool accumulate) {
  const int segments = b.segments(), length = b.length();
  if (segments == 0 || length == 0) {
    if (!accumulate)
      for (int i = 0; i < m; ++i) std::fill(c + static_cast<long>(i) * ldc, c + static_cast<long>(i) * ldc + n, 0.0f);
    return;
  }
  // Blocks of about kDotDepth floats of k: whole segments when they are shorter.
  const int piece = std::min(length, kDotDepth);
  const int segments_per_block = std::max(1, kDotDepth / length);
  for (int s0 = 0; s0 < segments; s0 += segments_per_block) {
    for (int q0 = 0; q0 < length; q0 += piece) {
      long b_rows[kDotColumns] = {};
      DotBlock d{.segments = std::min(segments_per_block, segments - s0),
                 .length = std::min(piece, length - q0),
                 .a_segment_stride = length,
                 .a = nullptr,
                 .lda = lda,
                 .b = b.base() + s0 * b.segment_stride() + q0,
                 .b_rows = b_rows,
                 .b_segment_stride = b.segment_stride(),
                 .c = nullptr,
                 .ldc = ldc,
                 .accumulate = accumulate || s0 > 0 || q0 > 0};
      const bool whole = d.length % 16 == 0;
      for (int j0 = 0; j0 < n; j0 += kDotColumns) {
        const int columns = std::min(kDotColumns, n - j0);
        for (int j = 0; j < columns; ++j) b_rows[j] = b.row_offset(j0 + j);
        for (int i0 = 0; i0 < m; i0 += kDotRows) {
          d.a = a + static_cast<long>(i0) * lda + static_cast<long>(s0) * length + q0;
          d.c = c + static_cast<long>(i0) * ldc + j0;
          if (whole) dot_tile_sized<true>(std::min(kDotRows, m - i0), columns, d);
          else dot_tile_sized<false>(std::min(kDotRows, m - i0), columns, d);
        }
      }
    }
  }
}

inline void gemm_abt(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
                     bool accumulate) {
  gemm_abt(m, n, a, lda, DenseRowsT{b, ldb, k}, c, ldc, accumulate);
}

}  // namespace strata::cpu::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#if defined(__NVCC__)
#pragma nv_diag_default 1675
#endif

#endif
