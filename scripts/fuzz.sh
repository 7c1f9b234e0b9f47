#!/usr/bin/env bash
# Build the libFuzzer targets for the untrusted-input parsers (clang) in
# build-fuzz and run each for SECONDS seconds (default 60).
#   scripts/fuzz.sh 60           # what CI runs
#   scripts/fuzz.sh 3600 -jobs=2 # longer run; extra args go to every libFuzzer run
# Exit status non-zero when a target fails to build or finds a crash / leak /
# sanitizer error; the reproducer is left in build-fuzz/artifacts/<target>/.
set -uo pipefail
SECS=${1:-60}
shift || true
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=build-fuzz
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (Debian: clang, libclang-rt-14-dev)"; exit 1; }
# Only the library parts the parsers need: the fuzz build must not depend on
# every area compiling under clang + sanitizers.
SKIP="src/models/;src/geometry/;src/pipeline/;src/features/;src/eval/;src/nn/;src/core/gemm;src/core/ops;src/core/cpu"
mkdir -p "$B"
CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPC_FUZZ=ON -DPC_BENCH=OFF \
    -DPC_SKIP_SOURCES="$SKIP" -DPC_ONLY_TESTS="^$" >"$B/configure.log" 2>&1 \
    || { cat "$B/configure.log"; echo "fuzz.sh: configure failed"; exit 1; }
TARGETS="fuzz_safetensors fuzz_zip fuzz_pickle fuzz_image"
cmake --build "$B" --target $TARGETS -j"$(nproc)" >/dev/null 2>"$B/build.err" \
    || { cat "$B/build.err"; echo "fuzz.sh: build failed"; exit 1; }

# Seeds: the small hand-made files in fuzz/corpus/<kind>, plus (when the
# golden data is there) the real data.pkl of the DUSt3R tiny checkpoint.
SHARED=${PC_SHARED_DIR:-$ROOT/../shared}
fail=0
for t in $TARGETS; do
    kind=${t#fuzz_}
    work="$B/corpus/$kind"
    mkdir -p "$work" "$B/artifacts/$t"
    cp -n fuzz/corpus/"$kind"/* "$work"/ 2>/dev/null || true
    if [ "$kind" = pickle ] && [ -f "$SHARED/golden/dust3r/tiny.pth" ] && command -v python3 >/dev/null; then
        python3 -c "import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('tiny/data.pkl'))" \
            "$SHARED/golden/dust3r/tiny.pth" >"$work/golden_tiny_data.pkl" 2>/dev/null || rm -f "$work/golden_tiny_data.pkl"
    fi
    echo "== $t: ${SECS}s =="
    log="$B/$t.log"
    # run inside build-fuzz: with -jobs libFuzzer writes fuzz-N.log into the current directory
    (cd "$B" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ./"$t" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" "$@" "corpus/$kind") >"$log" 2>&1
    rc=$?
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" | tail -3
    if [ "$rc" != 0 ]; then
        echo "fuzz.sh: $t FAILED (exit $rc); log: $log"
        grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -20
        fail=$((fail + 1))
    fi
done
if [ "$fail" != 0 ]; then echo "fuzz.sh: $fail target(s) failed"; exit 1; fi
echo "fuzz.sh: all targets ran ${SECS}s without a finding"
