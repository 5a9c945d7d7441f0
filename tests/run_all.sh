#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything in Release and runs
# every test (unit tests, compile-fail tests, the 100-layer stack). Usage: bash tests/run_all.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/cmake/install_dependencies.sh"

build="$root/build/tests-release"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=ON -DSTRATA_BUILD_EXAMPLES=ON "${launcher[@]}"
start=$(date +%s)
cmake --build "$build" -j "$(nproc)"
echo "strata: build took $(( $(date +%s) - start )) s"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
