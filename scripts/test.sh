#!/usr/bin/env bash
# Build (via setup.sh) and run every test; closing line "N passed, N failed".
# Usage: scripts/test.sh [build-dir] [extra cmake args...]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
if [ "$#" -gt 0 ]; then
  cmake -S . -B "$BUILD" "$@" >/dev/null || exit 1
  cmake --build "$BUILD" -j"$(nproc)" || { echo "0 passed, 1 failed"; exit 1; }
else
  scripts/setup.sh "$BUILD" || { echo "0 passed, 1 failed"; exit 1; }
fi
log=$(mktemp)
(cd "$BUILD" && ctest --output-on-failure -j"$(nproc)" 2>&1) | tee "$log"
rc=${PIPESTATUS[0]}
total=$(grep -Eo 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
failed=$(grep -Eo '[0-9]+ tests failed out of' "$log" | grep -Eo '^[0-9]+' | tail -1)
skipped=$(grep -c '\*\*\*Skipped' "$log" || true)
rm -f "$log"
total=${total:-0}; failed=${failed:-0}
passed=$((total - failed - skipped))
if [ "$total" = 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$rc" = 0 ] && [ "$failed" = 0 ]
