#!/usr/bin/env bash
# CLI test for `posecrafter interp` with the tiny random-weight DynamiCrafter parts of the golden folder
# (UNet, VAE, CLIP in three files; T = 4 frames at 192x128, 2 DDIM steps): exit codes, output files and sizes,
# progress bar, determinism for a fixed seed. $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"

"$BIN" interp >/dev/null 2>"$tmp/err"; rc=$?
check "no arguments -> usage, exit 2" test "$rc" = 2
"$BIN" interp --model m.ckpt a.png b.png -o "$tmp/o" --steps x >/dev/null 2>&1; rc=$?
check "bad --steps -> exit 2" test "$rc" = 2
"$BIN" interp --model m.ckpt a.png b.png -o "$tmp/o" --frames 5 >/dev/null 2>&1; rc=$?
check "odd --frames -> exit 2" test "$rc" = 2
"$BIN" interp --model "$tmp/missing.ckpt" a.png b.png -o "$tmp/o" --vocab x.gz >/dev/null 2>"$tmp/err"; rc=$?
check "missing model -> exit 1 naming it" bash -c "test $rc = 1 && grep -q missing.ckpt '$tmp/err'"

G="$SHARED/golden/dynamicrafter"
I="$SHARED/data/SfM_quality_evaluation/Benchmarking_Camera_Calibration_2008/castle-P30/images"
if [ ! -f "$G/unet_tiny.ckpt" ] || [ ! -f "$I/0010.jpg" ]; then
    if [ -n "${CI:-}" ] && [ "${CI}" != 0 ] && [ "${CI}" != false ]; then echo "FAIL: shared data missing"; exit 1; fi
    echo "SKIP: shared data missing ($G, $I)"
    [ "$fail" = 0 ] && exit 77 || exit 1
fi
run() {  # run OUT_DIR SEED
    "$BIN" interp --model "$G/unet_tiny.ckpt" --model "$G/vae_tiny.ckpt" --model "$G/clip_tiny.ckpt" \
        --vocab "$G/bpe_simple_vocab_16e6.txt.gz" --size 192x128 --frames 4 --steps 2 --head-channels 16 \
        --clip-heads 4,4,3 --threads 2 --seed "$2" --prompt "a castle" "$I/0010.jpg" "$I/0014.jpg" -o "$1"
}
run "$tmp/a" 12306 >"$tmp/out" 2>"$tmp/err"; rc=$?
check "interp (tiny model) exits 0" test "$rc" = 0
[ "$rc" = 0 ] || cat "$tmp/err"
check "4 frames + contact sheet" bash -c "ls '$tmp/a' | tr '\n' ' ' | grep -q 'contact_sheet.png frame_00.png frame_01.png frame_02.png frame_03.png'"
check "progress bar with ETA on stderr" bash -c "grep -q 'DDIM \[#*' '$tmp/err' && grep -q '2/2 t=' '$tmp/err' && grep -q ETA '$tmp/err'"
# width x height from the PNG IHDR chunk (big-endian u32 at bytes 16 and 20)
pngsize() { echo "$((16#$(od -An -tx1 -j16 -N4 "$1" | tr -d ' \n')))x$((16#$(od -An -tx1 -j20 -N4 "$1" | tr -d ' \n')))"; }
check "frame_00.png is 192x128" test "$(pngsize "$tmp/a/frame_00.png")" = 192x128
check "contact_sheet.png is 4 x 96 by 64" test "$(pngsize "$tmp/a/contact_sheet.png")" = 384x64
run "$tmp/b" 12306 >/dev/null 2>&1
check "same seed -> identical frames" cmp -s "$tmp/a/frame_02.png" "$tmp/b/frame_02.png"
run "$tmp/c" 7 >/dev/null 2>&1
check "other seed -> different frames" bash -c "! cmp -s '$tmp/a/frame_02.png' '$tmp/c/frame_02.png'"
# --config: an upstream-style yaml gives the frame size (image_size x 8) and the head sizes
cat >"$tmp/tiny.yaml" <<'YAML'
model:
  target: lvdm.models.ddpm3d.LatentVisualDiffusion
  params:
    parameterization: "v"   # comment
    image_size: [16, 24]
    conditioning_key: hybrid
    unet_config:
      params:
        num_head_channels: 16
    image_proj_stage_config:
      params:
        heads: 3
YAML
"$BIN" interp --config "$tmp/tiny.yaml" --model "$G/unet_tiny.ckpt" --model "$G/vae_tiny.ckpt" --model "$G/clip_tiny.ckpt" \
    --vocab "$G/bpe_simple_vocab_16e6.txt.gz" --frames 4 --steps 2 --clip-heads 4,4,3 --threads 2 \
    --prompt "a castle" "$I/0010.jpg" "$I/0014.jpg" -o "$tmp/d" >/dev/null 2>"$tmp/err"; rc=$?
check "--config yaml: frame size and UNet head channels from the file (exit 0)" test "$rc" = 0
[ "$rc" = 0 ] || cat "$tmp/err"
check "--config run equals the command-line run" cmp -s "$tmp/a/frame_02.png" "$tmp/d/frame_02.png"
sed 's/conditioning_key: hybrid/conditioning_key: crossattn/' "$tmp/tiny.yaml" >"$tmp/bad.yaml"
"$BIN" interp --config "$tmp/bad.yaml" --model m a b -o "$tmp/e" >/dev/null 2>"$tmp/err"; rc=$?
check "unsupported conditioning_key in the yaml -> exit 1 naming it" bash -c "test $rc = 1 && grep -q conditioning_key '$tmp/err'"
echo "$fail failed"
[ "$fail" = 0 ]
