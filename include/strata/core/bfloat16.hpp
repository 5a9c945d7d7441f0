// strata/core/bfloat16.hpp: the 16-bit brain float that bf16 models store activations in.
//
//   strata::Model<Net, strata::Cuda, strata::bfloat16> model{64, 1};  // fp32 weights, bf16 activations
//
// bfloat16 is the upper half of an IEEE float: sign, the same 8-bit exponent (so the same range),
// 7 stored mantissa bits (about 2-3 significant decimal digits). A model whose scalar is bfloat16
// keeps its layer outputs and their gradients in it, halving their memory traffic, while its
// parameters, their gradients, the optimizer's state and every reduction stay in float
// (parameter_t): what mixed-precision training calls fp32 master weights. Arithmetic happens in
// float (compute_t): a kernel loads bfloat16, computes in float and stores the rounded result.
//
// Conversion from float rounds to nearest, ties to even, as CUDA's __float2bfloat16_rn and
// PyTorch do; a NaN stays a (quiet) NaN of the same sign, and values beyond the largest
// bfloat16 round to infinity. It is one function for host and device, so the CPU tests check
// the rounding the GPU does.
#pragma once

#include <cstdint>
#include <type_traits>

#include "strata/core/float_bits.hpp"
#include "strata/core/host_device.hpp"

namespace strata {

namespace detail {

// The upper 16 bits of f rounded to nearest, ties to even; a NaN keeps its sign and turns quiet.
STRATA_HOST_DEVICE inline std::uint16_t bfloat16_bits_from_float(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);  // half an ulp, plus one when the kept part is odd
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

}  // namespace detail

struct bfloat16 {
  std::uint16_t bits;  // no initialiser: a trivial type, usable in __shared__ arrays like CUDA's own

  bfloat16() = default;
  // Rounds (see above). Explicit, so that a kernel cannot lose precision by accident.
  STRATA_HOST_DEVICE explicit bfloat16(float f) : bits(detail::bfloat16_bits_from_float(f)) {}
  // Exact: every bfloat16 is a float.
  STRATA_HOST_DEVICE operator float() const {  // NOLINT(google-explicit-constructor)
    return float_from_bits(static_cast<std::uint32_t>(bits) << 16);
  }

  STRATA_HOST_DEVICE static bfloat16 from_bits(std::uint16_t b) {
    bfloat16 v;
    v.bits = b;
    return v;
  }
};

static_assert(sizeof(bfloat16) == 2 && std::is_trivially_copyable_v<bfloat16>,
              "bfloat16 must be exactly the 16 bits cuDNN reads");

template <class T>
inline constexpr bool is_bfloat16 = std::is_same_v<std::remove_cv_t<T>, bfloat16>;

// What a model of activation scalar T keeps its parameters (and host data) in, and what its
// kernels compute in: T itself, except float for bfloat16.
template <class T>
using parameter_t = std::conditional_t<is_bfloat16<T>, float, std::remove_cv_t<T>>;
template <class T>
using compute_t = parameter_t<T>;

// v converted to the storage type T (rounded when T is bfloat16).
template <class T, class V>
STRATA_HOST_DEVICE inline T to_scalar(V v) {
  if constexpr (is_bfloat16<T>) return T(static_cast<float>(v));
  else return static_cast<T>(v);
}

}  // namespace strata
