#!/usr/bin/env bash
# tests/parity/run.sh SIDE_PROGRAM PYTHON ARCH DIR: strata's side, then PyTorch's, in double
# (strict) and in float32. Exit 77 (CTest: skipped) when PyTorch is missing, saying why.
set -euo pipefail
side=$1 python=$2 arch=$3 dir=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "parity test skipped: $python cannot import torch (install Debian's python3-torch)"
  exit 77
fi
for precision in f64 f32; do
  "$side" "$arch" "$dir/$precision" 20 "$precision"
  "$python" "$here/torch_parity.py" "$arch" "$dir/$precision" "$precision"
done
