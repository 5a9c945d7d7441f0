#!/usr/bin/env bash
# bench/gpu/check.sh: the CUDA backend's proof on a GPU machine, in one run of about 8 minutes at
# most (the phases' time limits add up to 8 minutes).
#
#   bash bench/gpu/check.sh            # results in $OUT (default: bench/gpu/out)
#
# Needs one NVIDIA GPU (code built for sm_$STRATA_CUDA_ARCH, default 90: H100/H200), nvcc 13, a
# Python with PyTorch (its nvidia-cudnn wheel supplies cuDNN 9's headers and libraries; or set
# CUDNN_ROOT), and the Eigen and doctest headers: the system's, or third_party_headers/ carried
# with the tree (bench/gpu/carry_headers.sh fills it from a machine that has them). No internet.
#
#   1. builds the CUDA parity tests and the GPU benchmark with nvcc (no CMake needed)
#   2. runs the parity tests: every layer's forward and gradients against the CPU backend, the
#      losses and optimizers, 10 training steps of ConvNet v1 on both backends, CUDA-graph
#      training steps against eager ones (bit for bit) and their non-finite checks; four times:
#      channels first without strata's direct convolution kernels (--no-direct: a fault in them
#      loses the process's CUDA context, and this run still says how the rest fares) and with
#      them, channels last (--channels-last), and channels last with cuDNN's graph-API engines
#      among the convolutions' candidates (--graph-engines)
#   3. benchmarks v1 and v2 at batch 64, 128 and 256 in fp32, tf32 and bf16, each step launched
#      eagerly and replayed as a CUDA graph (STRATA_GPU_MODES, default eager,graph), then again
#      with channels-last activations in a second process (v1 only: STRATA_GPU_NHWC_ARCHS;
#      STRATA_GPU_NHWC_MODES, default eager-nhwc,graph-nhwc), then v1 at batch 64 and 256 in a
#      third, with graph engines too and with cuDNN only (no direct kernels of strata's):
#      STRATA_GPU_ENGINES_MODES, default graph-nhwc-engines,graph-nhwc-cudnn; then the PyTorch
#      twin (bench/gpu/twin.py) on the same grid. Every mode but -cudnn times strata's direct
#      kernels against cuDNN for the layers with at most 4 channels on one side (the benchmark
#      turns them on: the library's default is off). A benchmark process that loses its CUDA
#      context (a kernel's fault) runs its modes again with -cudnn in what is left of its limit.
#   4. times one epoch of 82,782 v1 images (batch 64 and 256; channels last also 512) per
#      precision, replayed as graphs (STRATA_GPU_EPOCH_MODES, default graph;
#      STRATA_GPU_NHWC_EPOCH_MODES, default graph-nhwc)
#   5. writes results.md (the table for bench/RESULTS.md) from the three outputs
#   6. trains strata-inpaint --device cuda for 2 epochs on its built-in scenes with the trainer's
#      defaults, in fp32 (channels first) and bf16 (channels last), then v1-unet in bf16 (when
#      carried prebuilt)
#   7. only when asked (STRATA_GPU_PHASES=...,profile): each kernel's time in a v1 training step at
#      batch 256, fp32, tf32 and bf16, NCHW and channels last, for strata (ncu) and strata's
#      algorithm choices, graph engines included (strata_kernels.txt,
#      strata_algorithms.txt), and v1 from pageable host memory (strata_pageable.csv); with profile-torch too, the PyTorch twin's (torch.profiler,
#      channels_last and NCHW) and its NCHW speed (torch_kernels.txt, twin_nchw.csv)
# STRATA_GPU_PHASES (default tests,bench,twin,inpaint) picks the phases that run; STRATA_GPU_ARCHS
# (default v1,v2) the benchmarked models, STRATA_GPU_EPOCH (default 82782; 0: none) the epoch,
# STRATA_GPU_EPOCH_BATCHES (default 64,256) its batch sizes, STRATA_GPU_NHWC_EPOCH_BATCHES those of
# the channels-last run (default 64,256,512: the 1.8 s epoch was reached at 512 before).
# Files in $OUT: check.log, cuda_tests.txt, strata_bench.csv, torch_bench.csv, results.md,
# inpaint.log, inpaint_samples.png.
# Each phase has its own time limit (STRATA_GPU_NO_DIRECT_TEST_LIMIT, _TEST_LIMIT,
# _ENGINES_TEST_LIMIT, _BENCH_LIMIT, _NHWC_BENCH_LIMIT, _ENGINES_BENCH_LIMIT, _TWIN_LIMIT,
# _INPAINT_LIMIT seconds; by default 30 for each of the first three test runs, 45 for the last
# (its searches time graph engines too), 50, 50, 30, 45, 15 for each of the three trainer runs
# (their first steps time graph engines), and 125 for the build: 8 minutes of limits, plus the
# setup's seconds; with prebuilt programs the build's share goes to the others: +5, +10, +10, +10
# for the test runs, +25, +25, +15, +25: 8 minutes again), so a hang costs that phase only; the
# benchmark times its epochs first. On an H200 with prebuilt programs (2026-11-30, seventh
# session) they took 26 (--no-direct), 29, 28, 28 (tests), 43, 59, 14 (benchmarks), 45 (twin)
# and about 3 s each (trainer), the profile 23 s before. Built there, the build's minutes are not
# measured and the channels-last benchmark and the twin may be cut by their limits (59 s against
# 50, 45 against 45): prebuild. The device tool brings back at most 8 files: pack $OUT (tar)
# when asking for the profile.
# Exit status: 0 when the parity tests passed (benchmarks failing are
# reported in results.md and check.log).
#
# Device time is scarce: STRATA_GPU_PREBUILT=DIR skips the build when DIR holds strata_cuda_tests
# and strata_gpu_bench (optionally strata-inpaint, and lib/ with shared libraries they need that
# the GPU machine lacks) built elsewhere for the same architecture, and they find every library
# there; bench/gpu/prebuild.sh fills such a folder from a CMake build.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/bench/gpu/out}
mkdir -p "$OUT"
log="$OUT/check.log"
: >"$log"
say() { echo "[check $(date +%T)] $*" | tee -a "$log"; }

PYTHON=${PYTHON:-python3}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
ARCH=${STRATA_CUDA_ARCH:-90}
bin=${STRATA_GPU_BUILD:-/tmp/strata-gpu-build}
mkdir -p "$bin"
phases=${STRATA_GPU_PHASES:-tests,bench,twin,inpaint}
want() { [[ ",$phases," == *",$1,"* ]]; }

# ---- what this machine has ----
say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
say "nvcc: $("$NVCC" --version 2>/dev/null | tail -1 || echo "not found at $NVCC")"
have_torch=0
if "$PYTHON" -c "import torch" 2>/dev/null; then
  have_torch=1
  say "python: $("$PYTHON" -c 'import torch, sys; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)')"
else
  say "python: $PYTHON cannot import torch; the PyTorch twin will not run"
fi

# cuDNN: CUDNN_ROOT, else PyTorch's nvidia/*cudnn* wheel folder, else next to nvcc.
cudnn_include="" cudnn_lib=""
search_roots=()
[ -n "${CUDNN_ROOT:-}" ] && search_roots+=("$CUDNN_ROOT")
if [ "$have_torch" = 1 ]; then
  while IFS= read -r dir; do search_roots+=("$dir"); done < <("$PYTHON" - <<'EOF' 2>/dev/null
import site, os
dirs = site.getsitepackages() + [site.getusersitepackages()]
for d in dirs:
    if os.path.isdir(os.path.join(d, "nvidia")):
        print(os.path.join(d, "nvidia"))
EOF
)
fi
search_roots+=("$(dirname "$(dirname "$NVCC")")" /usr)
for r in "${search_roots[@]}"; do
  [ -d "$r" ] || continue
  [ -z "$cudnn_include" ] && cudnn_include=$(find -L "$r" -maxdepth 5 -name 'cudnn_version*.h' -path '*include*' 2>/dev/null | head -1 | xargs -r dirname)
  [ -z "$cudnn_lib" ] && cudnn_lib=$(find -L "$r" -maxdepth 5 -name 'libcudnn.so.9*' 2>/dev/null | head -1 | xargs -r dirname)
  [ -n "$cudnn_include" ] && [ -n "$cudnn_lib" ] && break
done
if [ -z "$cudnn_include" ] || [ -z "$cudnn_lib" ]; then
  say "cuDNN 9 not found (include: '${cudnn_include}', lib: '${cudnn_lib}'); set CUDNN_ROOT"
  exit 2
fi
say "cuDNN: $(grep -E '#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' "$cudnn_include"/cudnn_version*.h | awk '{printf "%s ", $3}')(headers $cudnn_include, libraries $cudnn_lib)"

# Eigen and doctest: carried copies first, then the system's.
header_dir() {  # header_dir RELATIVE_FILE CANDIDATE_DIRS...
  local file=$1
  shift
  for d in "$@"; do [ -f "$d/$file" ] && { echo "$d"; return; }; done
}
eigen=$(header_dir Eigen/Core "$root/third_party_headers/eigen3" /usr/include/eigen3 /usr/local/include/eigen3)
doctest=$(header_dir doctest/doctest.h "$root/third_party_headers" /usr/include /usr/local/include)
headers_found=1  # only the build needs them
if [ -z "$eigen" ] || [ -z "$doctest" ]; then
  headers_found=0
  say "Eigen ('$eigen') or doctest ('$doctest') headers missing: building here is impossible (run bench/gpu/carry_headers.sh where they are installed and carry third_party_headers/)"
fi

# The CUDA tests' trainer cases (Trainer<Net, Cuda>) write PNGs through Debian's libstb: built
# where it is installed; otherwise the tests say they were not built.
trainer_flags=()
stb_lib=$(ls /usr/lib/x86_64-linux-gnu/libstb.so /usr/lib64/libstb.so /usr/lib/libstb.so 2>/dev/null | head -1 || true)
if [ -f /usr/include/stb/stb_image.h ] && [ -n "$stb_lib" ]; then
  trainer_flags=(-DSTRATA_CUDA_TEST_TRAINER "$stb_lib")
fi

# cuDNN loads its sub-libraries (and NVRTC) at run time: PyTorch's nvidia/*/lib folders first.
libs="$cudnn_lib"
if [[ "$cudnn_lib" == */nvidia/* ]]; then
  for d in "$(dirname "$cudnn_lib")"/../*/lib; do [ -d "$d" ] && libs="$libs:$(cd "$d" && pwd)"; done
fi
export LD_LIBRARY_PATH="$libs:$(dirname "$(dirname "$NVCC")")/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
prebuilt=${STRATA_GPU_PREBUILT:-}
spare=0
# A phase's default limit: BASE seconds, plus EXTRA when the build was skipped (spare=1).
limit_of() { echo $(($1 + spare * $2)); }
[ -n "$prebuilt" ] && [ -d "$prebuilt/lib" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(cd "$prebuilt/lib" && pwd)"

# ---- 1. build (the two programs in parallel), unless prebuilt ones load here ----
usable() {  # usable BINARY: exists and every shared library it needs is found
  [ -x "$1" ] && ! ldd "$1" 2>&1 | grep -q "not found"
}
if [ -n "$prebuilt" ] && usable "$prebuilt/strata_cuda_tests" && usable "$prebuilt/strata_gpu_bench"; then
  cp "$prebuilt/strata_cuda_tests" "$prebuilt/strata_gpu_bench" "$bin/"
  usable "$prebuilt/strata-inpaint" && cp "$prebuilt/strata-inpaint" "$bin/"
  say "prebuilt programs from $prebuilt: $(cat "$prebuilt/BUILT" 2>/dev/null || echo 'origin not recorded')"
  tests_built=0 bench_built=0
  spare=1  # the build's share of the 8 minutes goes to the phases below
else
  [ -n "$prebuilt" ] && say "prebuilt programs in $prebuilt unusable here: $(ldd "$prebuilt/strata_cuda_tests" 2>&1 | grep 'not found' | tr '\n' ' ')"

  if [ "$headers_found" = 0 ]; then
    say "nothing to run: no usable prebuilt programs and no headers to build them"
    exit 2
  fi
  say "building for sm_$ARCH into $bin"
  flags=(-std=c++20 -O3 "-gencode=arch=compute_$ARCH,code=sm_$ARCH" --expt-relaxed-constexpr -diag-suppress=20012
         -Iinclude -Itests "-I$eigen" "-I$doctest" "-I$cudnn_include")
  link=("-L$cudnn_lib" -l:libcudnn.so.9 -Xlinker "-rpath=$cudnn_lib")
  start=$SECONDS
  timeout 125 "$NVCC" "${flags[@]}" -Xcompiler=-fopenmp tests/backend/cuda/parity.cu "${trainer_flags[@]}" "${link[@]}" -lgomp \
    -o "$bin/strata_cuda_tests" >"$bin/tests.log" 2>&1 &
  tests_build=$!
  timeout 125 "$NVCC" "${flags[@]}" bench/gpu/bench.cu "${link[@]}" -o "$bin/strata_gpu_bench" >"$bin/bench.log" 2>&1 &
  bench_build=$!
  wait $tests_build; tests_built=$?
  wait $bench_build; bench_built=$?
  cat "$bin/tests.log" "$bin/bench.log" >>"$log"
  say "build: tests exit $tests_built, benchmark exit $bench_built, $((SECONDS - start)) s"
fi

# ---- 2. parity tests ----
tests_status=1
if ! want tests; then
  say "parity tests: not asked for (STRATA_GPU_PHASES=$phases)"
elif [ "$tests_built" = 0 ]; then
  # Four runs, each after the one before is safe in the file, each under a "## FLAGS" line:
  # channels first without strata's direct convolution kernels (a fault in them poisons the
  # process's CUDA context: this run still says how the rest fares) and with them; channels
  # last; channels last with cuDNN's graph-API engines among the convolutions' candidates.
  : >"$OUT/cuda_tests.txt"
  run=0
  for run_flags in "--no-direct" "" "--channels-last" "--channels-last --graph-engines"; do
    start=$SECONDS
    echo "## ${run_flags:-(channels first)}" >>"$OUT/cuda_tests.txt"
    limit=${STRATA_GPU_TEST_LIMIT:-$(limit_of 30 10)}
    [ "$run_flags" = "--no-direct" ] && limit=${STRATA_GPU_NO_DIRECT_TEST_LIMIT:-$(limit_of 30 5)}
    [[ "$run_flags" == *--graph-engines* ]] && limit=${STRATA_GPU_ENGINES_TEST_LIMIT:-$(limit_of 45 10)}  # engine searches too
    # Line-buffered, with each test case's time: a run cut by its limit shows how far it got.
    # shellcheck disable=SC2086  # $run_flags is a list of flags
    timeout "$limit" stdbuf -oL -eL "$bin/strata_cuda_tests" --no-intro --duration=true $run_flags \
      ${STRATA_GPU_TEST_ARGS:-} >>"$OUT/cuda_tests.txt" 2>&1
    status=$?
    [ "$run" = 0 ] || [ "$tests_status" = 0 ] && tests_status=$status
    run=$((run + 1))
    say "parity tests ${run_flags:-(channels first)}: exit $status, $((SECONDS - start)) s: $(awk -v m="## ${run_flags:-(channels first)}" \
      '$0 == m { on = 1; next } /^## / { on = 0 } on' "$OUT/cuda_tests.txt" | grep -E '^CUDA runtime tests( \(|:)' | tail -1)"
    tail -4 "$OUT/cuda_tests.txt" | tee -a "$log"
  done
else
  say "parity tests not built; see check.log"
fi

# ---- 3 and 4. strata's benchmark (with the epoch), then the PyTorch twin ----
grid=(--arch "${STRATA_GPU_ARCHS:-v1,v2}" --batch 64,128,256 --precision fp32,tf32,bf16 --steps 20 --warmup 5)
# Each mode with "-cudnn" added (none twice): the same rows with every pass left to cuDNN.
cudnn_only() { tr ',' '\n' <<<"$1" | sed -E '/-cudnn$/! s/$/-cudnn/' | awk 'NF && !seen[$0]++' | paste -sd, -; }
# The CUDA errors after which a process's context is lost (every later call fails with them).
sticky_errors='cudaError(IllegalAddress|MisalignedAddress|LaunchFailure|IllegalInstruction|Assert|HardwareStackError|InvalidPc|InvalidAddressSpace)'
# run_bench LABEL LIMIT MODES EPOCH_MODES ARGS...: one benchmark process, its rows appended to
# strata_bench.csv. Should it lose its CUDA context (a kernel's fault: a sticky error in a row's
# "# error" line, or the process killed by a signal other than its limit's), its modes run again
# with -cudnn in what is left of its limit, so that a fault in strata's direct kernels still
# leaves the rest measured. (A row that fails alone, a cuDNN refusal say, is only reported.)
run_bench() {
  local label=$1 limit=$2 modes=$3 epoch_modes=$4
  shift 4
  local start=$SECONDS status rows="$bin/bench_rows.csv"
  timeout "$limit" "$bin/strata_gpu_bench" "$@" --mode "$modes" --epoch-mode "${epoch_modes:-$modes}" \
    >"$rows" 2>>"$log"
  status=$?
  cat "$rows" >>"$OUT/strata_bench.csv"
  say "strata benchmark$label: exit $status, $((SECONDS - start)) s"
  local left=$((limit - (SECONDS - start))) lost=0
  grep -qE "^# error.*$sticky_errors" "$rows" && lost=1
  [ "$status" -gt 128 ] && [ "$status" != 137 ] && lost=1
  if [ "$status" != 0 ] && [ "$status" != 124 ] && [ "$lost" = 1 ] && [ "$modes" != "$(cudnn_only "$modes")" ] &&
     [ "$left" -gt 5 ]; then
    say "strata benchmark$label: its CUDA context was lost; again with cuDNN alone (--mode $(cudnn_only "$modes")), $left s left"
    start=$SECONDS
    timeout "$left" "$bin/strata_gpu_bench" "$@" --mode "$(cudnn_only "$modes")" \
      --epoch-mode "$(cudnn_only "${epoch_modes:-$modes}")" >>"$OUT/strata_bench.csv" 2>>"$log"
    say "strata benchmark$label, cuDNN alone: exit $?, $((SECONDS - start)) s"
  fi
}
# NCHW first, then channels last in a process of its own: a fault there (a CUDA context lost)
# cannot take the NCHW rows with it.
if want bench && [ "$bench_built" = 0 ]; then
  : >"$OUT/strata_bench.csv"
  run_bench "" "${STRATA_GPU_BENCH_LIMIT:-$(limit_of 50 25)}" "${STRATA_GPU_MODES:-eager,graph}" \
    "${STRATA_GPU_EPOCH_MODES:-graph}" "${grid[@]}" --epoch "${STRATA_GPU_EPOCH:-82782}" \
    --epoch-batch "${STRATA_GPU_EPOCH_BATCHES:-64,256}"
  run_bench ", channels last" "${STRATA_GPU_NHWC_BENCH_LIMIT:-$(limit_of 50 25)}" \
    "${STRATA_GPU_NHWC_MODES:-eager-nhwc,graph-nhwc}" "${STRATA_GPU_NHWC_EPOCH_MODES:-graph-nhwc}" "${grid[@]}" \
    --arch "${STRATA_GPU_NHWC_ARCHS:-v1}" --epoch "${STRATA_GPU_EPOCH:-82782}" \
    --epoch-batch "${STRATA_GPU_NHWC_EPOCH_BATCHES:-64,256,512}"
  # cuDNN's graph-API engines among each convolution's candidates (Context::set_graph_engines),
  # and cuDNN alone without strata's direct kernels (Context::set_direct_convolutions off), each
  # against graph-nhwc above: v1 at batch 64 and 256, in a third process; no epoch.
  run_bench ", channels last, graph engines and cuDNN only" "${STRATA_GPU_ENGINES_BENCH_LIMIT:-$(limit_of 30 15)}" \
    "${STRATA_GPU_ENGINES_MODES:-graph-nhwc-engines,graph-nhwc-cudnn}" "" --arch v1 --batch 64,256 \
    --precision fp32,tf32,bf16 --steps 20 --warmup 5 --epoch 0
fi
if want twin && [ "$have_torch" = 1 ]; then
  start=$SECONDS
  timeout "${STRATA_GPU_TWIN_LIMIT:-$(limit_of 45 25)}" "$PYTHON" bench/gpu/twin.py "${grid[@]}" >"$OUT/torch_bench.csv" 2>>"$log"
  say "PyTorch twin: exit $?, $((SECONDS - start)) s"
fi

# ---- 6. the trainer end to end (prebuilt only: building it needs CLI11 and stb) ----
# With the trainer's defaults (--layout auto, --cudnn-engines all, --direct-conv timed, graphs on):
# v1 in fp32 (channels first) and bf16 (channels last), then v1-unet in bf16 (its skip blocks).
if want inpaint && [ -x "$bin/strata-inpaint" ]; then
  : >"$OUT/inpaint.log"
  rm -f "$OUT/inpaint_samples.png"
  for run in "v1 fp32" "v1 bf16" "v1-unet bf16"; do
    read -r arch precision <<<"$run"
    start=$SECONDS
    rm -rf "$bin/inpaint-run"
    timeout "${STRATA_GPU_INPAINT_LIMIT:-15}" "$bin/strata-inpaint" train --device cuda --precision "$precision" \
      --arch "$arch" --epochs 2 --builtin-images 4096 --batch 64 --out "$bin/inpaint-run" >"$bin/inpaint-run.log" 2>&1
    status=$?
    { echo "## --arch $arch --precision $precision"; cat "$bin/inpaint-run.log"; } >>"$OUT/inpaint.log"
    say "strata-inpaint train --device cuda --arch $arch --precision $precision: exit $status, $((SECONDS - start)) s: $(grep '^epoch' "$bin/inpaint-run.log" | tail -1)"
    # The first run's pictures (v1 in fp32) come back.
    last=$(ls "$bin"/inpaint-run/samples_epoch*.png 2>/dev/null | tail -1)
    [ -n "$last" ] && [ ! -f "$OUT/inpaint_samples.png" ] && cp "$last" "$OUT/inpaint_samples.png"
  done
fi

# ---- 7. where a step's time goes ----
if want profile && [ "$bench_built" = 0 ]; then
  start=$SECONDS
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  : >"$OUT/strata_kernels.txt"
  for mode in eager eager-nhwc; do
    for precision in fp32 tf32 bf16; do
      if [ -n "$ncu" ]; then
        timeout 60 "$ncu" --profile-from-start off --clock-control none --metrics gpu__time_duration.sum --csv \
          --page raw "$bin/strata_gpu_bench" --arch v1 --batch 256 --precision $precision --mode $mode --steps 2 \
          --warmup 3 --profile 1 >"$bin/ncu_$precision.csv" 2>>"$log"
        echo "## strata v1 batch 256 $precision $mode (ncu exit $?)" >>"$OUT/strata_kernels.txt"
        "$PYTHON" bench/gpu/ncu_summary.py "$bin/ncu_$precision.csv" 2 >>"$OUT/strata_kernels.txt" 2>&1
      else
        echo "ncu not found" >>"$OUT/strata_kernels.txt"
      fi
    done
  done
  timeout 60 "$bin/strata_gpu_bench" --arch v1 --batch 64,256 --precision fp32,tf32,bf16 \
    --mode eager,eager-nhwc,eager-nhwc-engines --steps 10 --warmup 3 --algorithms 1 >>"$OUT/strata_kernels.txt" 2>"$OUT/strata_algorithms.txt"
  # What page-locked host batches (the benchmark's default, as the twin's) save over pageable ones.
  timeout 60 "$bin/strata_gpu_bench" --arch v1 --batch 64,256 --precision fp32,bf16 --mode eager,graph \
    --host pageable >"$OUT/strata_pageable.csv" 2>>"$log"
  if want profile-torch && [ "$have_torch" = 1 ]; then
    : >"$OUT/torch_kernels.txt"
    for layout in nhwc nchw; do
      timeout 60 "$PYTHON" bench/gpu/twin.py --arch v1 --batch 256 --precision fp32,tf32,bf16 --steps 3 --warmup 3 \
        --layout $layout --profile >/dev/null 2>>"$OUT/torch_kernels.txt"
    done
    timeout 60 "$PYTHON" bench/gpu/twin.py --arch v1,v2 --batch 64,256 --precision fp32,tf32 --layout nchw \
      >"$OUT/twin_nchw.csv" 2>>"$log"
  fi
  say "profile: $((SECONDS - start)) s"
fi

# ---- 5. the table ----
"$PYTHON" bench/gpu/results.py "$OUT/strata_bench.csv" "$OUT/torch_bench.csv" "$OUT/cuda_tests.txt" >"$OUT/results.md" 2>>"$log"
cat "$OUT/results.md"
say "done in $SECONDS s"
exit $tests_status
