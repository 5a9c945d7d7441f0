// strata/version.hpp: the library's version. The three numbers below are its one source:
// CMakeLists.txt reads them for project(VERSION) (strata_VERSION, strataConfigVersion.cmake),
// and strata::version is spelled from them here.
#pragma once

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0

namespace strata {

inline constexpr int version_major = STRATA_VERSION_MAJOR;
inline constexpr int version_minor = STRATA_VERSION_MINOR;
inline constexpr int version_patch = STRATA_VERSION_PATCH;

namespace detail {
struct VersionText {
  char text[3 * 10 + 3]{};  // three ints, two dots, the terminating zero
};
// "major.minor.patch" in a constant expression.
constexpr VersionText version_text(int major, int minor, int patch) {
  VersionText v{};
  const int parts[3] = {major, minor, patch};
  int at = 0;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) v.text[at++] = '.';
    char digits[10]{};
    int n = 0;
    for (int p = parts[i]; n == 0 || p > 0; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
    while (n > 0) v.text[at++] = digits[--n];
  }
  return v;
}
inline constexpr VersionText version_storage = version_text(version_major, version_minor, version_patch);
}  // namespace detail

// "0.1.0"
inline constexpr const char* version = detail::version_storage.text;

}  // namespace strata
