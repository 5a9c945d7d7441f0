#!/usr/bin/env bash
# The README's main command: installs what is missing, builds the examples in Release and runs
# the demo (the 7-conv inpainting autoencoder on generated images). Usage: bash examples/run_demo.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/cmake/install_dependencies.sh"

build="$root/build/examples-release"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=ON "${launcher[@]}"
cmake --build "$build" -j "$(nproc)" --target strata_quickstart
"$build/examples/quickstart/strata_quickstart" "$@"
