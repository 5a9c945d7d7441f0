#!/usr/bin/env bash
# The README's main command: installs what is missing, builds strata-inpaint in Release, and
# trains the 7-conv autoencoder (ConvNet v1) on the built-in generated scenes for a few minutes,
# writing its run folder (curves.png, samples_epochNNN.png, weights, checkpoints) to runs/demo.
# Extra arguments go to `strata-inpaint train`, e.g. --epochs 10 or --data /path/to/photos.
# Usage: bash examples/run_demo.sh [train flags...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/cmake/install_dependencies.sh"

build="$root/build/examples-release"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=ON "${launcher[@]}"
cmake --build "$build" -j "$(nproc)" --target strata_inpaint
run="$root/runs/demo"
if [ -f "$run/checkpoint.safetensors" ]; then
  echo "strata: $run holds an earlier run; moving it to $run.previous"
  rm -rf "$run.previous" && mv "$run" "$run.previous"
fi
"$build/examples/inpainting/strata-inpaint" train --arch v1 --epochs 5 --builtin-images 2048 --batch 64 --out "$run" "$@"
echo "strata: open $run/curves.png and $run/samples_epoch005.png"
