#!/usr/bin/env bash
# bench/gpu/carry_headers.sh: copies the Eigen and doctest headers installed on this machine into
# third_party_headers/ (git-ignored), for a GPU machine that lacks them: carry third_party_headers
# with the working tree (about 7 MB) and bench/gpu/check.sh finds them there. Local copies only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest="$root/third_party_headers"
eigen=${EIGEN_INCLUDE:-/usr/include/eigen3}
doctest=${DOCTEST_INCLUDE:-/usr/include}
[ -f "$eigen/Eigen/Core" ] || { echo "carry_headers.sh: no Eigen at $eigen (set EIGEN_INCLUDE)" >&2; exit 1; }
[ -f "$doctest/doctest/doctest.h" ] || { echo "carry_headers.sh: no doctest at $doctest (set DOCTEST_INCLUDE)" >&2; exit 1; }
rm -rf "$dest/eigen3" "$dest/doctest"
mkdir -p "$dest/eigen3" "$dest/doctest"
cp -r "$eigen/Eigen" "$dest/eigen3/"
cp "$doctest/doctest/doctest.h" "$dest/doctest/"
echo "carry_headers.sh: $(du -sh "$dest" | cut -f1) in $dest; pass carry=[\"third_party_headers\"] to the device run"
