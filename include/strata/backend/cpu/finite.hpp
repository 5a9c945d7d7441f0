// strata/backend/cpu/finite.hpp: counting NaN and infinite values, for the Model's checks.
//
// The Model counts non-finite parameter gradients after every backward pass (a few hundred
// thousand values: microseconds), and, only when something went bad, every activation to name
// the first layer whose output did.
#pragma once

#include <cstddef>

#include "strata/core/elementwise.hpp"

namespace strata::cpu {

template <class T>
std::size_t count_non_finite(const T* data, std::size_t n, int /*threads*/) {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += elementwise::is_finite(data[i]) ? 0 : 1;
  return bad;
}

}  // namespace strata::cpu
