#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 600)
# on the seed corpus that make_seed_corpus writes. A crashing input is saved under
# tests/fuzz/regressions/<target>/, where the normal test build replays it from then on.
#   bash tests/fuzz/run.sh [SECONDS] [TARGET...]     targets: image_decode safetensors
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image_decode safetensors)
bash "$root/cmake/install_dependencies.sh" clang libclang-rt-14-dev

build="$root/build/fuzz"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DSTRATA_BUILD_FUZZERS=ON -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=OFF -DSTRATA_BUILD_BENCHMARKS=OFF \
  -DSTRATA_ENABLE_CUDA=OFF -DSTRATA_ARCH_FLAGS= >/dev/null
cmake --build "$build" -j "$(nproc)" --target strata_fuzz_seed_corpus "${targets[@]/%/_fuzzer}"
"$build/tests/fuzz/strata_fuzz_seed_corpus" "$build/seeds" "$root/tests/data/fixtures"

for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"   # grows as the fuzzer finds new paths; seeds stay separate
  crashes="$root/tests/fuzz/regressions/$target"
  mkdir -p "$corpus" "$crashes"
  echo "fuzzing $target for $seconds s"
  # -rss_limit_mb: a decoder that allocates gigabytes for a small file is a bug too.
  "$build/tests/fuzz/${target}_fuzzer" "$corpus" "$build/seeds/$target" -max_total_time="$seconds" ${FUZZ_FLAGS:-} \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 |
    tee "$build/$target.log" | grep -E "^#[0-9]+.*(pulse|DONE)|ERROR|SUMMARY|stat::number_of_executed_units|Done" || true
  if grep -q "ERROR: libFuzzer\|ERROR: AddressSanitizer\|runtime error" "$build/$target.log"; then
    echo "$target: a crash was found; the input is in $crashes (see $build/$target.log)"
    exit 1
  fi
done
