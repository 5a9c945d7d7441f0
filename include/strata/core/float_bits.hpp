// strata/core/float_bits.hpp: a float's bit pattern and back, on the host and on the GPU.
//
// For the per-element functions that work on a float's bits (rounding to bfloat16, rounding for
// binary accuracy) and must compile for both: std::bit_cast on the host, CUDA's intrinsics in
// device code.
#pragma once

#include <bit>
#include <cstdint>

#include "strata/core/host_device.hpp"

namespace strata {

STRATA_HOST_DEVICE inline std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  return std::bit_cast<std::uint32_t>(f);
#endif
}

STRATA_HOST_DEVICE inline float float_from_bits(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  return std::bit_cast<float>(u);
#endif
}

}  // namespace strata
