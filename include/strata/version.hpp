// strata/version.hpp: the library's version, from the one place CMake also reads it.
#pragma once

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0

namespace strata {
inline constexpr const char* version = "0.1.0";
}  // namespace strata
