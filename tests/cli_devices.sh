#!/usr/bin/env bash
# CLI test for `posecrafter devices`: $1 = posecrafter binary, $2 = shared dir (unused).
# Needs no GPU: with none (or a build without CUDA) the command must still exit 0 and say why.
set -u
BIN=$1
. "$(dirname "$0")/lib_cli.sh"

"$BIN" devices >"$tmp/out" 2>"$tmp/err"; rc=$?
cat "$tmp/out"
check "devices exits 0" test "$rc" = 0
check "a cpu: line naming the GEMM kernel" grep -Eq '^cpu: .*\(gemm: (avx512|avx2|scalar)\)$' "$tmp/out"
check "a measured cpu peak for the ISA that runs (a finite, positive number)" \
    grep -Eq '^cpu peak: [0-9]+\.[0-9] GFLOP/s fp32 per core \((avx512|avx2\+fma|sse2 \(mul\+add\)|scalar), (16|8|4|1) lanes' "$tmp/out"
check "peak above 1 GFLOP/s" awk '/^cpu peak:/ { exit !($3 > 1.0) }' "$tmp/out"
check "a cuda build: line" grep -q '^cuda build: ' "$tmp/out"
check "GPUs listed, or why there are none" \
    grep -Eq '^(gpu [0-9]+: .*compute capability [0-9]+\.[0-9]+|gpu: (built without CUDA|no CUDA device))' "$tmp/out"
"$BIN" devices --bogus >/dev/null 2>&1; rc=$?
check "unknown argument -> exit 2" test "$rc" = 2
"$BIN" devices --help >"$tmp/help" 2>&1; rc=$?
check "--help exits 0 with usage" bash -c "test $rc = 0 && grep -q 'usage: posecrafter devices' '$tmp/help'"
"$BIN" --help >"$tmp/usage" 2>&1
check "listed in the command table" grep -q '^  devices ' "$tmp/usage"
echo "$fail failed"
[ "$fail" = 0 ]
