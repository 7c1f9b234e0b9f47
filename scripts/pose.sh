#!/usr/bin/env bash
# The main job: relative pose of two photos with the whole PoseCrafter pipeline.
#
#   scripts/pose.sh [A.jpg B.jpg] [-o OUT] [more `posecrafter pose` options]
#
# With the published checkpoints in $POSECRAFTER_MODELS (docs/PIPELINE.md lists the file names) this is
# `posecrafter pose A B --models $POSECRAFTER_MODELS`. Without them it runs the same pipeline end to end
# with the tiny random-weight models of ../shared/golden (small sizes, 2 DDIM steps): every stage, the
# evidence folder and the pose JSON are real, the pose itself is meaningless (the weights are random).
# Default photos: two views of castle-P30 from ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PC_BIN:-build/posecrafter}
SHARED=${PC_SHARED_DIR:-../shared}
[ -x "$BIN" ] || { echo "pose.sh: $BIN not built (run scripts/setup.sh)" >&2; exit 1; }
args=()
if [ $# -ge 2 ] && [ "${1#-}" = "$1" ] && [ "${2#-}" = "$2" ]; then
    args=("$1" "$2"); shift 2
else
    I="$SHARED/data/SfM_quality_evaluation/Benchmarking_Camera_Calibration_2008/castle-P30/images"
    args=("$I/0010.jpg" "$I/0014.jpg")
fi
if [ -n "${POSECRAFTER_MODELS:-}" ]; then
    exec "$BIN" pose "${args[@]}" --models "$POSECRAFTER_MODELS" "$@"
fi
G="$SHARED/golden/dynamicrafter"
D="$SHARED/golden/dust3r"
echo "pose.sh: POSECRAFTER_MODELS is not set: running with the tiny random-weight test models (pose meaningless)" >&2
exec "$BIN" pose "${args[@]}" --dust3r "$D/tiny.pth" \
    --interp-model "$G/unet_tiny.ckpt" --interp-model "$G/vae_tiny.ckpt" --interp-model "$G/clip_tiny.ckpt" \
    --vc-model "$G/unet_tiny.ckpt" --vc-model "$G/vae_tiny.ckpt" --vc-model "$G/clip_tiny.ckpt" \
    --vocab "$G/bpe_simple_vocab_16e6.txt.gz" --head-channels 16 --clip-heads 4,4,3 \
    --size 192x128 --vc-size 192x128 --frames 4 --poses 7 --steps 2 --dust3r-size 64 --niter 50 \
    --fms-threshold 0 -o "${PC_OUT:-pose_demo}" "$@"
