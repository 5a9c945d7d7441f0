// strata/backend/cpu/conv.hpp: convolution on the CPU as im2col + GEMM, per image.
//
// Per image n (NCHW, weight [F, C*K*K] row-major, columns [C*K*K, Ho*Wo]), GEMMs from gemm.hpp:
//   forward          y_n = b + W * col(x_n)   (y_n starts as the bias, the GEMM accumulates)
//   backward-filter  dW += dy_n * col(x_n)^T,  db += rowsum(dy_n)
//   backward-data    dx_n = col2im(W^T * dy_n)
// Images are split over threads; each thread has its own column buffer and, with more than one
// thread, its own partial dW/db, summed in thread order afterwards (deterministic). A 1x1,
// stride-1 convolution uses the image itself as its column matrix.
//
// Implicit GEMM (float with AVX-512): a stride-1 convolution whose output is its input's size
// (Same) with rows a multiple of 16 wide, every convolution of the inpainting networks, writes
// no column matrix (9.4 MB per image for a 64-channel 64x64 input, far beyond L2; im2col and
// col2im took 15% of a v1 step). Each image is copied once with a zero border, and the GEMMs read
// their patches from that copy (gemm_avx512.hpp's PaddedPatches):
//   forward          y_n = b + W * patches(pad(x_n))   (the tiles start from the bias)
//   backward-filter  dW += dy_n * patches(pad(x_n))^T
//   backward-data    dx_n = flip(W) * patches(pad'(dy_n)): the forward convolution of dy with
//                    flip(W)[c][f][ky][kx] = W[f][c][K-1-ky][K-1-kx] and the mirrored padding
#pragma once

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "strata/backend/cpu/gemm.hpp"
#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/elementwise.hpp"
#include "strata/core/tensor.hpp"
#include "strata/layers/conv.hpp"

namespace strata::cpu {

// Column matrix of one image: row (c, ky, kx), column (oy, ox); zero where the window is outside.
template <class T>
void im2col(const T* x, Dims in, Dims out, const ConvGeometry& g, T* col) {
  const int k = g.kernel;
  const int s = g.stride;
  for (int c = 0; c < in.c; ++c) {
    const T* plane = x + static_cast<std::size_t>(c) * in.plane();
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        T* row = col + ((static_cast<std::size_t>(c) * k + ky) * k + kx) * out.plane();
        // Output columns whose input column ox * s - pad_left + kx lies inside [0, in.w).
        const int shift = kx - g.pad_left;
        const int ox_begin = std::clamp((-shift + s - 1) / s, 0, out.w);
        const int ox_end = std::clamp((in.w - shift + s - 1) / s, ox_begin, out.w);
        for (int oy = 0; oy < out.h; ++oy) {
          T* dst = row + static_cast<std::size_t>(oy) * out.w;
          const int iy = oy * s - g.pad_top + ky;
          if (iy < 0 || iy >= in.h) {
            std::fill(dst, dst + out.w, T(0));
            continue;
          }
          const T* src = plane + static_cast<std::size_t>(iy) * in.w + shift;
          std::fill(dst, dst + ox_begin, T(0));
          if (s == 1) {
            std::copy(src + ox_begin, src + ox_end, dst + ox_begin);
          } else {
            for (int ox = ox_begin; ox < ox_end; ++ox) dst[ox] = src[ox * s];
          }
          std::fill(dst + ox_end, dst + out.w, T(0));
        }
      }
    }
  }
}

// Adds a column matrix back into an image (the adjoint of im2col). dx must be zeroed first.
template <class T>
void col2im_add(const T* col, Dims in, Dims out, const ConvGeometry& g, T* x) {
  const int k = g.kernel;
  const int s = g.stride;
  for (int c = 0; c < in.c; ++c) {
    T* plane = x + static_cast<std::size_t>(c) * in.plane();
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        const T* row = col + ((static_cast<std::size_t>(c) * k + ky) * k + kx) * out.plane();
        const int shift = kx - g.pad_left;
        const int ox_begin = std::clamp((-shift + s - 1) / s, 0, out.w);
        const int ox_end = std::clamp((in.w - shift + s - 1) / s, ox_begin, out.w);
        for (int oy = 0; oy < out.h; ++oy) {
          const int iy = oy * s - g.pad_top + ky;
          if (iy < 0 || iy >= in.h) continue;
          const T* src = row + static_cast<std::size_t>(oy) * out.w;
          T* dst = plane + static_cast<std::size_t>(iy) * in.w + shift;
          if (s == 1) {  // contiguous: vectorised (the strided loop is not)
            for (int ox = ox_begin; ox < ox_end; ++ox) dst[ox] += src[ox];
          } else {
            for (int ox = ox_begin; ox < ox_end; ++ox) dst[ox * s] += src[ox];
          }
        }
      }
    }
  }
}

inline bool is_pointwise(const ConvGeometry& g) {
  return g.kernel == 1 && g.stride == 1 && g.pad_top == 0 && g.pad_left == 0;
}

// Whether conv2d_* take the implicit-GEMM path (see the top of this file) for scalar T.
template <class T>
bool uses_padded_patches(Dims in, Dims out, const ConvGeometry& g) {
#if defined(STRATA_HAVE_AVX512_GEMM)
  if constexpr (std::is_same_v<T, float>)
    return g.kernel > 1 && g.stride == 1 && in.h == out.h && in.w == out.w && out.w % 16 == 0;
#endif
  (void)in, (void)out, (void)g;
  return false;
}

// Copies `channels` planes of h x w into (h + kernel - 1) x (w + kernel - 1) planes with
// pad_top zero rows above and pad_left zero columns to the left (the rest of the border below
// and to the right).
template <class T>
void pad_planes(const T* x, int channels, int h, int w, int kernel, int pad_top, int pad_left, T* padded) {
  const int padded_h = h + kernel - 1, padded_w = w + kernel - 1;
  for (int c = 0; c < channels; ++c) {
    const T* plane = x + static_cast<std::size_t>(c) * h * w;
    T* out = padded + static_cast<std::size_t>(c) * padded_h * padded_w;
    for (int y = 0; y < padded_h; ++y) {
      T* row = out + static_cast<std::size_t>(y) * padded_w;
      const int source_y = y - pad_top;
      if (source_y < 0 || source_y >= h) {
        std::fill(row, row + padded_w, T(0));
        continue;
      }
      const T* source = plane + static_cast<std::size_t>(source_y) * w - pad_left;  // row[j] = source[j]
#if defined(STRATA_HAVE_AVX512_GEMM)
      if constexpr (std::is_same_v<T, float>) {
        // Masked loads read nothing outside [pad_left, pad_left + w): the border comes out zero
        // without separate fills (a memset and a memmove call per row cost more than the copy).
        for (int j = 0; j < padded_w; j += 16) {
          const int first = std::clamp(pad_left - j, 0, 16), last = std::clamp(pad_left + w - j, 0, 16);
          const auto inside = static_cast<__mmask16>(((1u << last) - 1) & ~((1u << first) - 1));
          const auto stored = static_cast<__mmask16>((1u << std::min(16, padded_w - j)) - 1);
          _mm512_mask_storeu_ps(row + j, stored, _mm512_maskz_loadu_ps(inside, source + j));
        }
        continue;
      }
#endif
      for (int j = 0; j < padded_w; ++j) row[j] = j >= pad_left && j < pad_left + w ? source[j] : T(0);
    }
  }
}

// Sum of n values; float with AVX-512 in 16 lanes (a fixed order: deterministic).
template <class T>
T sum_of(const T* values, int n) {
#if defined(STRATA_HAVE_AVX512_GEMM)
  if constexpr (std::is_same_v<T, float>) {
    __m512 lanes = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
      const auto mask = static_cast<__mmask16>(n - i >= 16 ? 0xFFFFu : (1u << (n - i)) - 1);
      lanes = _mm512_add_ps(lanes, _mm512_maskz_loadu_ps(mask, values + i));
    }
    return _mm512_reduce_add_ps(lanes);
  }
#endif
  T sum = T(0);
  for (int i = 0; i < n; ++i) sum += values[i];
  return sum;
}

// Per-worker scratch: a column matrix or a padded image, GEMM packing space, and (with several
// workers) partial weight and bias gradients; after the workers' parts, the flipped weights of
// the implicit backward-data, shared.
struct ConvScratch {
  std::size_t columns = 0;
  std::size_t padded = 0;
  std::size_t gemm = 0;
  std::size_t partial_grads = 0;
  std::size_t masked_gradient = 0;  // one image's dy through a fused ReLU's mask
  std::size_t flipped_weights = 0;
  constexpr std::size_t per_worker() const { return columns + padded + gemm + partial_grads + masked_gradient; }
};

// The scalar type is not known here (Model<Net, Cpu, double> asks too), so the layout has room
// for both paths; the part a path does not use is never touched after allocation.
inline ConvScratch conv2d_scratch_layout(Dims in, Dims out, const ConvGeometry& g, int workers) {
  const std::size_t k2 = static_cast<std::size_t>(g.kernel) * g.kernel;
  const std::size_t patch = static_cast<std::size_t>(in.c) * k2;
  const std::size_t flipped_patch = static_cast<std::size_t>(out.c) * k2;
  const std::size_t plane = out.plane();
  const std::size_t filters = static_cast<std::size_t>(out.c);
  const std::size_t channels = static_cast<std::size_t>(in.c);
  ConvScratch s;
  s.columns = patch * plane;
  s.padded = std::max(channels, filters) * static_cast<std::size_t>(in.h + g.kernel - 1) * (in.w + g.kernel - 1);
  // The products: (F x patch)(patch x P), (F x P)(P x patch), (patch x F)(F x P), and the
  // implicit backward-data (C x F*K*K)(F*K*K x P).
  s.gemm = std::max({gemm_workspace_floats(filters, plane, patch), gemm_workspace_floats(filters, patch, plane),
                     gemm_workspace_floats(patch, plane, filters),
                     gemm_workspace_floats(channels, plane, flipped_patch)});
  s.partial_grads = workers > 1 ? filters * (patch + 1) : 0;
  s.masked_gradient = out.size();
  s.flipped_weights = filters * patch;
  return s;
}

inline std::size_t conv2d_scratch_floats(Dims in, Dims out, const ConvGeometry& g, int batch, int threads) {
  const int workers = workers_for(batch, threads);
  const ConvScratch layout = conv2d_scratch_layout(in, out, g, workers);
  return static_cast<std::size_t>(workers) * layout.per_worker() + layout.flipped_weights;
}

// relu: stores max(y, 0) instead of y (a following ReLU fused in; Model pairs them), bit for bit
// what the ReLU layer would have written.
template <class T>
void conv2d_forward(BasicTensor<const T> x, BasicTensor<T> y, const T* weight, const T* bias,
                    const ConvGeometry& g, T* scratch, int threads, bool relu = false) {
  const Dims in = x.dims;
  const Dims out = y.dims;
  const int patch = in.c * g.kernel * g.kernel;
  const int plane = static_cast<int>(out.plane());
  const ConvScratch layout = conv2d_scratch_layout(in, out, g, workers_for(x.batch, threads));
  const bool pointwise = is_pointwise(g);
  [[maybe_unused]] const bool implicit = uses_padded_patches<T>(in, out, g);
  parallel_for(x.batch, threads, [&](int begin, int end, int worker) {
    T* col = scratch + static_cast<std::size_t>(worker) * layout.per_worker();
    T* padded = col + layout.columns;
    T* gemm_space = padded + layout.padded;
    for (int n = begin; n < end; ++n) {
      T* result = y.sample(n);
#if defined(STRATA_HAVE_AVX512_GEMM)
      if constexpr (std::is_same_v<T, float>) {
        if (implicit) {
          pad_planes(x.sample(n), in.c, in.h, in.w, g.kernel, g.pad_top, g.pad_left, padded);
          const avx512::PaddedPatches patches{padded, g.kernel, in.h + g.kernel - 1, in.w + g.kernel - 1, out.w};
          avx512::gemm<false>(out.c, plane, patch, weight, patch, patches, result, plane, false, gemm_space,
                              {bias, relu});
          continue;
        }
      }
#endif
      for (int f = 0; f < out.c; ++f) std::fill(result + static_cast<std::size_t>(f) * plane,
                                                result + static_cast<std::size_t>(f + 1) * plane, bias[f]);
      const T* source = x.sample(n);
      if (!pointwise) {
        im2col(source, in, out, g, col);
        source = col;
      }
      gemm_accumulate(out.c, plane, patch, weight, patch, false, source, plane, false, result, plane, gemm_space);
      if (relu)
        for (std::size_t i = 0; i < out.size(); ++i) result[i] = elementwise::relu(result[i]);
    }
  });
}

// Writes dweight and dbias (not accumulated); writes dx unless dx.data is null. With relu_output
// (a fused ReLU's output, same shape as dy), dy is the gradient of that output and each image's
// gradient is first masked where the output is 0, as the ReLU layer's backward would (bit for bit).
template <class T>
void conv2d_backward(BasicTensor<const T> x, BasicTensor<const T> dy, BasicTensor<T> dx,
                     const T* weight, T* dweight, T* dbias, const ConvGeometry& g, T* scratch,
                     int threads, const T* relu_output = nullptr) {
  const Dims in = x.dims;
  const Dims out = dy.dims;
  const int filters = out.c;
  const int patch = in.c * g.kernel * g.kernel;
  const int plane = static_cast<int>(out.plane());
  const std::size_t weights = static_cast<std::size_t>(filters) * patch;
  const int workers = workers_for(x.batch, threads);
  const ConvScratch layout = conv2d_scratch_layout(in, out, g, workers);
  const bool pointwise = is_pointwise(g);
  [[maybe_unused]] const bool implicit = uses_padded_patches<T>(in, out, g);
  T* flipped = scratch + static_cast<std::size_t>(workers) * layout.per_worker();
  if (implicit && dx.data != nullptr) {
    const int k2 = g.kernel * g.kernel;
    for (int f = 0; f < filters; ++f)
      for (int c = 0; c < in.c; ++c)
        for (int r = 0; r < k2; ++r)
          flipped[(static_cast<std::size_t>(c) * filters + f) * k2 + (k2 - 1 - r)] =
              weight[(static_cast<std::size_t>(f) * in.c + c) * k2 + r];
  }

  const int ran = parallel_for(x.batch, threads, [&](int begin, int end, int worker) {
    T* col = scratch + static_cast<std::size_t>(worker) * layout.per_worker();
    T* padded = col + layout.columns;
    T* gemm_space = padded + layout.padded;
    // With one worker the gradients go straight to their destination.
    T* dw = workers > 1 ? gemm_space + layout.gemm : dweight;
    T* db = workers > 1 ? dw + weights : dbias;
    T* masked = gemm_space + layout.gemm + layout.partial_grads;
    std::fill(dw, dw + weights, T(0));
    std::fill(db, db + filters, T(0));
    for (int n = begin; n < end; ++n) {
      const T* grad = dy.sample(n);
      if (relu_output != nullptr) {  // in cache for the three uses below, unlike a pass over the batch
        const T* y = relu_output + static_cast<std::size_t>(n) * out.size();
        for (std::size_t i = 0; i < out.size(); ++i) masked[i] = elementwise::relu_backward(y[i], grad[i]);
        grad = masked;
      }
      for (int f = 0; f < filters; ++f) db[f] += sum_of(grad + static_cast<std::size_t>(f) * plane, plane);
#if defined(STRATA_HAVE_AVX512_GEMM)
      if constexpr (std::is_same_v<T, float>) {
        if (implicit) {
          const int padded_h = in.h + g.kernel - 1, padded_w = in.w + g.kernel - 1;
          pad_planes(x.sample(n), in.c, in.h, in.w, g.kernel, g.pad_top, g.pad_left, padded);
          const avx512::PaddedPatchRows rows{{padded, g.kernel, padded_h, padded_w, out.w}, out.h};
          avx512::gemm_abt(filters, patch, grad, plane, rows, dw, patch, true);
          if (dx.data == nullptr) continue;
          pad_planes(grad, filters, out.h, out.w, g.kernel, g.kernel - 1 - g.pad_top, g.kernel - 1 - g.pad_left,
                     padded);
          const avx512::PaddedPatches patches{padded, g.kernel, padded_h, padded_w, in.w};
          const int flipped_patch = filters * g.kernel * g.kernel;
          avx512::gemm<false>(in.c, plane, flipped_patch, flipped, flipped_patch, patches, dx.sample(n), plane, false,
                              gemm_space);
          continue;
        }
      }
#endif
      const T* source = x.sample(n);
      if (!pointwise) {
        im2col(source, in, out, g, col);
        source = col;
      }
      gemm_accumulate(filters, patch, plane, grad, plane, false, source, plane, true, dw, patch, gemm_space);
      if (dx.data == nullptr) continue;
      T* target = pointwise ? dx.sample(n) : col;
      gemm(patch, plane, filters, weight, patch, true, grad, plane, false, target, plane, gemm_space, /*accumulate=*/false);
      if (!pointwise) {
        std::fill(dx.sample(n), dx.sample(n) + in.size(), T(0));
        col2im_add(col, in, out, g, dx.sample(n));
      }
    }
  });

  if (workers > 1) {
    // Sum the partial gradients in worker order; each worker that ran had at least one image.
    const auto partial = [&](int worker) {
      return scratch + static_cast<std::size_t>(worker) * layout.per_worker() + layout.columns + layout.padded +
             layout.gemm;
    };
    std::copy(partial(0), partial(0) + weights, dweight);
    std::copy(partial(0) + weights, partial(0) + weights + filters, dbias);
    for (int t = 1; t < ran; ++t) {
      const T* p = partial(t);
      for (std::size_t i = 0; i < weights; ++i) dweight[i] += p[i];
      for (int f = 0; f < filters; ++f) dbias[f] += p[weights + f];
    }
  }
}

// conv2d_backward through a fused ReLU: relu_output is the pair's output, dy its gradient.
template <class T>
void conv2d_backward_relu(BasicTensor<const T> x, BasicTensor<const T> relu_output, BasicTensor<const T> dy,
                          BasicTensor<T> dx, const T* weight, T* dweight, T* dbias, const ConvGeometry& g, T* scratch,
                          int threads) {
  conv2d_backward(x, dy, dx, weight, dweight, dbias, g, scratch, threads, relu_output.data);
}

}  // namespace strata::cpu
