#!/usr/bin/env bash
# One-step set-up on a fresh Debian machine: install missing packages, configure, build.
# Usage: scripts/setup.sh [build-dir [extra cmake args...]]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true

# Required: the build (compiler, CMake, pkg-config, libpng, libjpeg, zlib, cJSON) and the tools
# scripts/get_models.sh and its test use (curl, jq). Optional, each one only widening what gets built
# or compared (the build and the tests pass without them): OpenBLAS (bench/ baseline), clang +
# its runtime (libFuzzer targets). OpenCV (bench_pose_classical's baseline, libopencv-dev) and a CUDA
# toolkit (the GPU backend) are picked up when present but never installed here.
REQUIRED="build-essential cmake pkg-config libpng-dev libjpeg-dev zlib1g-dev libcjson-dev curl jq"
OPTIONAL="libopenblas-dev clang libclang-rt-14-dev"
missing=""
for p in $REQUIRED $OPTIONAL; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $REQUIRED >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $OPTIONAL >/dev/null || echo "setup: optional packages unavailable (bench/fuzz only)" >&2
fi

# Configure quietly, but show what each optional part built or left out.
log=$(mktemp)
if ! cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >"$log" 2>&1; then
  cat "$log"; rm -f "$log"; exit 1
fi
sed -n 's/^-- \(posecrafter [0-9.]* optional parts:\)/setup: \1/p; s/^--   \(.*\)$/setup:   \1/p' "$log" >&2
rm -f "$log"
cmake --build "$BUILD" -j"$(nproc)"
