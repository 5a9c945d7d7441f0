#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything in Release and runs
# every test (unit tests, compile-fail tests, the 100-layer stack, the command line, the crash
# harness, PyTorch parity, fuzz replays, consumer builds, docs snippets; with nvcc, the CUDA
# backend's tests, which run on a GPU and otherwise say they skipped), then builds the unit tests
# again with ASan + UBSan and runs them. Usage: bash tests/run_all.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# python3-torch: the PyTorch parity tests (tests/parity/), skipped with a message where it is missing.
bash "$root/cmake/install_dependencies.sh" python3-torch

build="$root/build/tests-release"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=ON -DSTRATA_BUILD_EXAMPLES=ON "${launcher[@]}"
start=$(date +%s)
cmake --build "$build" -j "$(nproc)"
echo "strata: build took $(( $(date +%s) - start )) s"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
# CTest prints nothing of a test that passed or was skipped: say whether the CUDA runtime tests ran.
if [ -x tests/strata_cuda_tests ]; then
  grep -h "^CUDA runtime tests" Testing/Temporary/LastTest.log || true
else
  echo "strata: the CUDA backend and its tests were not built (no nvcc or cuDNN 9 found, or STRATA_ENABLE_CUDA=OFF)"
fi

# The same unit tests, fuzz replays and command-line tests built with AddressSanitizer and
# UndefinedBehaviorSanitizer (STRATA_SANITIZE): any report fails the test, and so this command.
sanitize="$root/build/tests-sanitize"
cmake -S "$root" -B "$sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=ON -DSTRATA_ENABLE_CUDA=OFF \
  -DSTRATA_BUILD_TESTS=ON -DSTRATA_BUILD_EXAMPLES=ON -DSTRATA_BUILD_BENCHMARKS=OFF "${launcher[@]}" >/dev/null
start=$(date +%s)
cmake --build "$sanitize" -j "$(nproc)" --target strata_tests strata_inpaint strata_fuzz_seed_corpus_tool \
  image_decode_replay safetensors_replay
echo "strata: sanitizer build took $(( $(date +%s) - start )) s"
cd "$sanitize"
ctest --output-on-failure -j "$(nproc)" -R '^(unit|fuzz\.|cli\.)'
echo "strata: the sanitizer build (ASan + UBSan) passed its unit, fuzz-replay and command-line tests"
