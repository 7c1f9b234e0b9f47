#!/usr/bin/env bash
# One-step set-up on a fresh Debian machine: install missing packages, configure, build.
# Usage: scripts/setup.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}

# Runtime/build dependencies (required), plus bench-only comparison baselines.
REQUIRED="build-essential cmake pkg-config libpng-dev libjpeg-dev zlib1g-dev libcjson-dev"
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

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
