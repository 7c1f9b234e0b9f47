#!/usr/bin/env bash
# One device-machine check of the CUDA backend (issue #8): build with
# -DPC_CUDA=ON, run test_cuda (every kernel vs its CPU twin), test_dust3r_cuda
# (DUSt3R encoder + decoders on the GPU vs the golden dump and vs the CPU at
# ViT-L size), bench_dust3r --device cuda, bench_cuda_ops, and compute-sanitizer
# memcheck passes; about 5-7 minutes on an H100/H200 machine.
#
#   bash scripts/gpu_prepare.sh          # HERE first: goldens + fallback libs into build-gpu-carry/
#   run(command="bash scripts/gpu_check.sh", carry=["build-gpu-carry"], timeout_s=540)
#   bash scripts/gpu_check.sh            # results under $OUT (the device tool's folder) or /tmp/pc-gpu-check
#
# Files written (<= 8, flat, as the device tool brings back):
#   summary.txt   the short verdict + the benchmark tables (also printed last)
#   env.txt       nvidia-smi, nvcc, cmake, compiler versions
#   build.log     configure + build output (or the fallback build's)
#   resources.txt registers / shared memory / spills per kernel (cuobjdump)
#   test_cuda.txt test_cuda output (worst error vs tolerance per check)
#   test_dust3r_cuda.txt  test_dust3r_cuda output (normwise error per stage vs tolerance), then test_clip on cuda
#   memcheck.txt  compute-sanitizer --tool memcheck on test_dust3r_cuda (tiny model) and test_cuda
#   bench.txt     bench_dust3r --device cuda (ViT-L/512 DPT, 512x384) and bench_cuda_ops output
#
# The image may lack libpng/libjpeg/cJSON development files, which the full
# CMake configure requires: then the script compiles what the two programs
# need (src/core, src/cuda, tests/testutil.c) with gcc + nvcc directly. Before that fallback
# it retries CMake with the headers/libraries carried in build-gpu-carry/deps (gpu_prepare.sh);
# only the CMake builds have test_dust3r_cuda and bench_dust3r.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-/tmp/pc-gpu-check}
mkdir -p "$OUT"
B=${PC_GPU_BUILD:-$ROOT/build-gpu}  # build* is git-ignored
JOBS=$(nproc 2>/dev/null || echo 8)
[ -d /usr/local/cuda/bin ] && export PATH=/usr/local/cuda/bin:$PATH
C=$ROOT/build-gpu-carry
[ -d "$C/shared/golden" ] && export PC_SHARED_DIR=$C/shared  # else ../shared (absent there: golden part skipped)
S=$OUT/summary.txt
: >"$S"
note() { echo "$*" | tee -a "$S"; }
t_start=$(date +%s)
# Every step's timeout is cut to what is left of PC_GPU_BUDGET seconds (default 520, under the device call's
# timeout_s=540), and a step with under 15 s left is skipped, so the summary is always written.
BUDGET=${PC_GPU_BUDGET:-520}
tl() {  # min(wanted, left), at least 1 (timeout 0 would mean no limit)
    local r=$((BUDGET - ($(date +%s) - t_start)))
    [ "$r" -lt 1 ] && r=1
    if [ "$r" -lt "$1" ]; then echo "$r"; else echo "$1"; fi
}

{
    date -u
    nvidia-smi 2>&1 | head -20
    nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv 2>&1
    nvcc --version 2>&1 | tail -2
    cmake --version 2>&1 | head -1
    gcc --version 2>&1 | head -1
    uname -a
    nproc
} >"$OUT/env.txt" 2>&1
note "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)"

# ---- build ------------------------------------------------------------------------
built=""
# the library without the areas these programs do not use (DUSt3R needs core, io, nn, models/dust3r*;
# bench_dust3r --mast3r the matching in features/; test_clip the CLIP models)
SKIP="src/pipeline/;src/eval/;src/models/(ddim|hybrid|interp|sampler|unet3d|vae|viewcrafter)"
TARGETS="test_cuda bench_cuda_ops test_dust3r_cuda bench_dust3r test_clip test_backend_ops"
cmake_build() {  # extra configure arguments
    rm -rf "$B"
    cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DPC_CUDA=ON -DPC_BENCH=ON \
        -DPC_ONLY_TESTS='test_cuda|test_dust3r_cuda|bench_cuda_ops|bench_dust3r|test_clip|test_backend_ops' -DPC_SKIP_SOURCES="$SKIP" "$@" \
        >>"$OUT/build.log" 2>&1 && cmake --build "$B" -j"$JOBS" --target $TARGETS >>"$OUT/build.log" 2>&1
}
: >"$OUT/build.log"
ok_cmake=0
if cmake_build; then
    ok_cmake=1
elif [ -d "$C/deps/lib" ]; then
    echo "== CMake build failed with the system libraries; again with build-gpu-carry/deps" >>"$OUT/build.log"
    D=$C/deps
    cmake_build -DPNG_PNG_INCLUDE_DIR="$D/include" -DPNG_LIBRARY="$D/lib/libpng16.so.16" \
        -DJPEG_INCLUDE_DIR="$D/include" -DJPEG_LIBRARY="$D/lib/libjpeg.so.62" -DZLIB_INCLUDE_DIR="$D/include" \
        -DZLIB_LIBRARY="$D/lib/libz.so.1" -DCJSON_INCLUDE_DIR="$D/include" -DCJSON_LIBRARY="$D/lib/libcjson.so.1" &&
        ok_cmake=1
fi
if [ "$ok_cmake" = 1 ]; then
    built=cmake
    TEST=$B/test_cuda
    BENCH=$B/bench_cuda_ops
    OBJS=$(ls "$B"/CMakeFiles/posecrafter.dir/src/cuda/*.o 2>/dev/null)
else
    echo "== CMake build failed (see above); direct gcc + nvcc build of src/core + src/cuda" >>"$OUT/build.log"
    F=$B-direct
    rm -rf "$F" && mkdir -p "$F"
    CF="-O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Isrc -Itests"
    ok=1
    for f in src/core/*.c tests/testutil.c tests/test_cuda.c bench/bench_cuda_ops.c; do
        extra=""
        case $f in
        *_avx512*.c) extra="-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vpopcntdq -mavx512bf16 -mfma -mavx2 -mf16c" ;;
        *_avx2*.c) extra="-mavx2 -mfma -mf16c -mpopcnt" ;;
        esac
        echo "gcc $f" >>"$OUT/build.log"
        gcc $CF $extra -DPC_SHARED_DIR_DEFAULT="\"$ROOT/../shared\"" -c "$f" -o "$F/$(basename "$f").o" \
            >>"$OUT/build.log" 2>&1 &
    done
    for f in src/cuda/*.cu; do
        echo "nvcc $f" >>"$OUT/build.log"
        nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
            -Xcompiler=-Wall,-Wextra,-Werror,-Wno-unused-parameter --Werror=all-warnings -DPC_CUDA_ARCHS=90 \
            -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -c "$f" -o "$F/$(basename "$f").o" >>"$OUT/build.log" 2>&1 &
    done
    wait
    LIBOBJ=$(ls "$F"/*.o | grep -v -e test_cuda -e bench_cuda_ops -e testutil)
    g++ -o "$F/test_cuda" "$F/test_cuda.c.o" "$F/testutil.c.o" $LIBOBJ -L/usr/local/cuda/lib64 -lcudart -lcublasLt \
        -lpthread -lm >>"$OUT/build.log" 2>&1 || ok=0
    g++ -o "$F/bench_cuda_ops" "$F/bench_cuda_ops.c.o" "$F/testutil.c.o" $LIBOBJ -L/usr/local/cuda/lib64 -lcudart \
        -lcublasLt -lpthread -lm >>"$OUT/build.log" 2>&1 || ok=0
    if [ "$ok" = 1 ] && [ -x "$F/test_cuda" ]; then
        built=direct
        TEST=$F/test_cuda
        BENCH=$F/bench_cuda_ops
        OBJS=$(ls "$F"/*.cu.o)
    fi
fi
if [ -z "$built" ]; then
    note "BUILD FAILED: last lines of build.log:"
    tail -30 "$OUT/build.log" | tee -a "$S"
    exit 1
fi
note "build: $built ($(($(date +%s) - t_start)) s)"

# Registers, shared memory, spills of every kernel: read without running anything.
for o in $OBJS; do
    echo "== $o"
    cuobjdump --dump-resource-usage "$o" 2>&1 | grep -E "Function|REG|STACK|SHARED|LOCAL" | sed 's/^ *//'
done >"$OUT/resources.txt" 2>&1

# ---- correctness -------------------------------------------------------------------
timeout "$(tl 240)" "$TEST" >"$OUT/test_cuda.txt" 2>&1
rc=$?
note "test_cuda: exit $rc ($(tail -1 "$OUT/test_cuda.txt"))"
grep -E "FAIL|FATAL|SKIP" "$OUT/test_cuda.txt" | head -20 | tee -a "$S"

# DUSt3R encoder + decoders on the GPU: goldens (tiny model) and ViT-L vs CPU; then its speed
drc=skipped
: >"$OUT/bench.txt"
if [ "$built" = cmake ]; then
    timeout "$(tl 200)" "$B/test_dust3r_cuda" >"$OUT/test_dust3r_cuda.txt" 2>&1
    drc=$?
    note "test_dust3r_cuda: exit $drc ($(tail -1 "$OUT/test_dust3r_cuda.txt")) ($(($(date +%s) - t_start)) s since start)"
    grep -E "FAIL|FATAL|SKIP|skipped|ViT-L 512|ViT-L on|tiny golden" "$OUT/test_dust3r_cuda.txt" | head -30 | tee -a "$S"
    # every nn op and layer on the cuda backend vs the cpu backend (and the emulated device)
    timeout "$(tl 60)" "$B/test_backend_ops" >>"$OUT/test_cuda.txt" 2>&1
    note "test_backend_ops: exit $? ($(tail -1 "$OUT/test_cuda.txt"))"
    grep -E "FAIL|FATAL| cuda " "$OUT/test_cuda.txt" | tail -24 | tee -a "$S"
    # CLIP towers + Resampler on the nn cuda backend (goldens; the cpu part of the test runs first)
    PC_CLIP_DEVICE=cuda timeout "$(tl 60)" "$B/test_clip" >>"$OUT/test_dust3r_cuda.txt" 2>&1
    note "test_clip (PC_CLIP_DEVICE=cuda): exit $? ($(tail -1 "$OUT/test_dust3r_cuda.txt"))"
    grep -E "FAIL|FATAL|cuda: largest" "$OUT/test_dust3r_cuda.txt" | tail -12 | tee -a "$S"
    if [ "$(tl 150)" -ge 15 ]; then
        timeout "$(tl 150)" "$B/bench_dust3r" --device cuda --bf16 --runs 3 --threads "$JOBS" >>"$OUT/bench.txt" 2>&1
        note "bench_dust3r --device cuda: exit $? ($(($(date +%s) - t_start)) s since start)"
    else
        note "bench_dust3r: skipped (time budget)"
    fi
else
    note "test_dust3r_cuda, bench_dust3r: not built (fallback build)"
fi

# ---- speed ---------------------------------------------------------------------------
if [ "$(tl 200)" -ge 15 ]; then
    timeout "$(tl 200)" "$BENCH" >>"$OUT/bench.txt" 2>&1
    note "bench_cuda_ops: exit $? ($(($(date +%s) - t_start)) s since start)"
else
    note "bench_cuda_ops: skipped (time budget)"
fi

if command -v compute-sanitizer >/dev/null 2>&1; then
    : >"$OUT/memcheck.txt"
    if [ "$built" = cmake ] && [ "$(tl 90)" -ge 15 ]; then
        PC_DUST3R_CUDA_QUICK=1 timeout "$(tl 90)" compute-sanitizer --tool memcheck --error-exitcode 3 "$B/test_dust3r_cuda" \
            >>"$OUT/memcheck.txt" 2>&1
        note "memcheck test_dust3r_cuda (tiny model): exit $? ($(grep -E 'ERROR SUMMARY' "$OUT/memcheck.txt" | tail -1))"
    fi
    if [ "$(tl 150)" -ge 15 ]; then
        timeout "$(tl 150)" compute-sanitizer --tool memcheck --error-exitcode 3 "$TEST" >>"$OUT/memcheck.txt" 2>&1
        mrc=$?
        note "memcheck test_cuda: exit $mrc ($(grep -E 'ERROR SUMMARY' "$OUT/memcheck.txt" | tail -1)) ($(($(date +%s) - t_start)) s)"
    else
        note "memcheck test_cuda: skipped (time budget)"
    fi
else
    note "memcheck: compute-sanitizer not found"
fi
cat "$OUT/bench.txt" >>"$S"
echo
cat "$OUT/bench.txt"
[ "$rc" = 0 ] && { [ "$drc" = 0 ] || [ "$drc" = skipped ]; }
