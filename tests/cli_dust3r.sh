#!/usr/bin/env bash
# posecrafter dust3r on the golden pair: outputs exist with the right .npy shapes; a corrupt model,
# a truncated model or a missing image gives a clear error, a non-zero exit and no output directory.
# $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
G=$2/golden/dust3r
if [ ! -f "$G/tiny.pth" ]; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL: $G/tiny.pth missing"; exit 1; fi
    echo "skip: $G/tiny.pth missing"; exit 77
fi
. "$(dirname "$0")/lib_cli.sh"
T=$tmp
fail=0
check() { if eval "$2"; then echo "  ok   $1"; else echo "  FAIL $1"; fail=1; fi; }
npy_shape() { head -c 128 "$1" | tr -d '\000' | grep -ao "'shape': ([0-9, ]*)" ; }

"$BIN" dust3r --model "$G/tiny.pth" "$G/images/Chateau1.png" "$G/images/Chateau2.png" -o "$T/out" --threads 2 \
    >"$T/log" 2>&1
rc=$?
cat "$T/log"
check "exit status 0" "[ $rc -eq 0 ]"
for f in pts3d_1.npy conf_1.npy pts3d_2.npy conf_2.npy cloud.ply depth_1.png depth_2.png conf_1.png conf_2.png; do
    check "$f written" "[ -s '$T/out/$f' ]"
done
check "pts3d_1.npy is (384, 512, 3) float32" "npy_shape '$T/out/pts3d_1.npy' | grep -q \"(384, 512, 3,\\?)\" && head -c 128 '$T/out/pts3d_1.npy' | grep -aq \"'<f4'\""
check "pts3d_2.npy is (384, 512, 3)" "npy_shape '$T/out/pts3d_2.npy' | grep -q \"(384, 512, 3,\\?)\""
check "conf_1.npy is (384, 512)" "npy_shape '$T/out/conf_1.npy' | grep -q \"(384, 512,\\?)\""
check "conf_2.npy is (384, 512)" "npy_shape '$T/out/conf_2.npy' | grep -q \"(384, 512,\\?)\""
check "pts3d_1.npy size = 128-byte header + 384*512*3*4" "[ \$(stat -c %s '$T/out/pts3d_1.npy') -eq $((128 + 384 * 512 * 3 * 4)) ]"
check "cloud.ply has a PLY header" "head -c 3 '$T/out/cloud.ply' | grep -q ply"
check "no .tmp files left" "! ls '$T/out' | grep -q tmp"

# the emulated device (the GPU code path over CPU twins of the CUDA kernels): same files, close values
"$BIN" dust3r --model "$G/tiny.pth" "$G/images/Chateau1.png" "$G/images/Chateau2.png" -o "$T/out_emu" --threads 2 \
    --device emu >"$T/log_emu" 2>&1
rc=$?
cat "$T/log_emu"
check "--device emu: exit status 0, reported" "[ $rc -eq 0 ] && grep -q '^device: emu' '$T/log_emu'"
check "--device emu: pts3d_1.npy same size as on the cpu" "[ \$(stat -c %s '$T/out_emu/pts3d_1.npy') -eq \$(stat -c %s '$T/out/pts3d_1.npy') ]"
check "--device emu: bf16 arithmetic, so not byte-identical to the cpu" "! cmp -s '$T/out_emu/pts3d_1.npy' '$T/out/pts3d_1.npy'"

# corrupt model: garbage bytes
head -c 4096 /dev/urandom >"$T/bad.pth"
"$BIN" dust3r --model "$T/bad.pth" "$G/images/Chateau1.png" "$G/images/Chateau2.png" -o "$T/out_bad" >"$T/log2" 2>&1
rc=$?
cat "$T/log2"
check "corrupt model: non-zero exit" "[ $rc -ne 0 ]"
check "corrupt model: message names the file" "grep -q 'bad.pth' '$T/log2'"
check "corrupt model: no output directory" "[ ! -e '$T/out_bad' ]"

# truncated checkpoint
head -c 1000000 "$G/tiny.pth" >"$T/trunc.pth"
"$BIN" dust3r --model "$T/trunc.pth" "$G/images/Chateau1.png" "$G/images/Chateau2.png" -o "$T/out_trunc" >"$T/log3" 2>&1
rc=$?
cat "$T/log3"
check "truncated model: non-zero exit with an error line" "[ $rc -ne 0 ] && grep -q 'error' '$T/log3'"
check "truncated model: no output directory" "[ ! -e '$T/out_trunc' ]"

# a safetensors file that is not a DUSt3R model (the golden activations)
"$BIN" dust3r --model "$G/pair.safetensors" "$G/images/Chateau1.png" "$G/images/Chateau2.png" -o "$T/out_nm" >"$T/log4" 2>&1
rc=$?
cat "$T/log4"
check "non-model checkpoint: error names the missing key" "[ $rc -ne 0 ] && grep -q 'patch_embed.proj.weight' '$T/log4'"
check "non-model checkpoint: no output directory" "[ ! -e '$T/out_nm' ]"

# missing image
"$BIN" dust3r --model "$G/tiny.pth" "$G/images/Chateau1.png" "$T/nope.jpg" -o "$T/out_img" >"$T/log5" 2>&1
rc=$?
cat "$T/log5"
check "missing image: non-zero exit naming the file" "[ $rc -ne 0 ] && grep -q 'nope.jpg' '$T/log5'"
check "missing image: no output directory" "[ ! -e '$T/out_img' ]"

if [ $fail -ne 0 ]; then echo "cli_dust3r: FAILED"; exit 1; fi
echo "cli_dust3r: all passed"
