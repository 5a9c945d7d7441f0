#!/usr/bin/env bash
# Installs the Debian 12 packages strata needs that are missing: a C++20 compiler, CMake, Eigen,
# doctest, CLI11 and stb (plus ccache to speed up rebuilds), and any packages named as arguments
# (the tests add python3-torch). As root, or with sudo, it runs apt-get; otherwise it prints the
# command to run and fails. Run by the README's two commands (examples/run_demo.sh, tests/run_all.sh).
set -euo pipefail

packages=(g++ make cmake libeigen3-dev doctest-dev libcli11-dev libstb-dev ccache "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "strata: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "strata: not root and no password-less sudo; install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
