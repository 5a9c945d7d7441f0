#!/usr/bin/env bash
# bench/gpu/prebuild.sh: builds the CUDA tests, the GPU benchmark and the CUDA-enabled trainer here
# (nvcc, cuDNN, stb, CLI11 installed; no GPU needed) and copies them into gpu_prebuilt/
# (git-ignored) with the shared libraries a bare GPU machine may lack (stb, OpenMP). Carry that
# folder and run STRATA_GPU_PREBUILT=gpu_prebuilt bash bench/gpu/check.sh there: the GPU's minutes
# then go to running, not compiling. check.sh builds there itself when these do not load.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${STRATA_PREBUILD_DIR:-$root/build/tests-release}
dest="$root/gpu_prebuilt"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=ON -DSTRATA_BUILD_EXAMPLES=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${STRATA_CUDA_ARCH:-90}" ${launcher[@]+"${launcher[@]}"} >/dev/null
cmake --build "$build" -j "$(nproc)" --target strata_cuda_tests strata_gpu_bench strata_inpaint
rm -rf "$dest"
mkdir -p "$dest/lib"
cp "$build/tests/strata_cuda_tests" "$build/bench/gpu/strata_gpu_bench" "$build/examples/inpainting/strata-inpaint" "$dest/"
for lib in libstb.so.0 libgomp.so.1; do
  path=$(ldd "$dest/strata-inpaint" | awk -v l="$lib" '$1 == l { print $3 }')
  [ -n "$path" ] && cp -L "$path" "$dest/lib/"
done
echo "built $(date -u +%F' '%T' UTC') from $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- include tests bench examples || echo ' (with uncommitted changes)') on $(. /etc/os-release && echo "$PRETTY_NAME")" >"$dest/BUILT"
echo "prebuild.sh: $(du -sh "$dest" | cut -f1) in $dest: $(cat "$dest/BUILT")"
