#!/usr/bin/env bash
# End-to-end test of `posecrafter pose` (the PoseCrafter pipeline) with the tiny random-weight models of the
# golden folders (DUSt3R tiny.pth; DynamiCrafter/ViewCrafter UNet, VAE, CLIP in three .ckpt files) on two
# real photos: every stage runs, outputs have the right shapes, the stage cache is used and invalidated
# correctly, a crash-like loss of one stage redoes only that stage, the ablation selectors and --no-hvg run,
# and the pose JSON parses. $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"

# argument errors need no models
"$BIN" pose >/dev/null 2>&1; rc=$?
check "no arguments -> usage, exit 2" test "$rc" = 2
"$BIN" pose a.jpg b.jpg --selector best >/dev/null 2>&1; rc=$?
check "bad --selector -> exit 2" test "$rc" = 2
"$BIN" pose a.jpg b.jpg --backbone vggt >/dev/null 2>"$tmp/err"; rc=$?
check "unknown --backbone -> exit 2" test "$rc" = 2
mkdir -p "$tmp/empty0"
POSECRAFTER_MODELS= "$BIN" pose a.jpg b.jpg --backbone mast3r --models "$tmp/empty0" >/dev/null 2>"$tmp/err"; rc=$?
check "--backbone mast3r looks for the MASt3R checkpoint (named when missing), not DUSt3R's" bash -c \
    "test $rc = 1 && grep -q 'MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth' '$tmp/err' && ! grep -q 'DUSt3R_ViTLarge' '$tmp/err'"
"$BIN" pose --help | grep -q -- "--selector S" || { echo "  FAIL --help lists --selector"; fail=$((fail + 1)); }
mkdir -p "$tmp/empty"
POSECRAFTER_MODELS= "$BIN" pose a.jpg b.jpg --models "$tmp/empty" >/dev/null 2>"$tmp/err"; rc=$?
check "empty models folder -> exit 1" test "$rc" = 1
for f in DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth dynamicrafter_512_interp_v1/model.ckpt model_sparse.ckpt \
         bpe_simple_vocab_16e6.txt.gz Drexubery/ViewCrafter_25_sparse Doubiiu/DynamiCrafter_512_Interp; do
    grep -q "$f" "$tmp/err" || { echo "  FAIL missing-model message names $f"; fail=$((fail + 1)); }
done
POSECRAFTER_MODELS="$tmp/empty" "$BIN" pose a.jpg b.jpg --no-hvg >/dev/null 2>"$tmp/err"; rc=$?
check "--no-hvg needs no ViewCrafter (and \$POSECRAFTER_MODELS is read)" \
    bash -c "test $rc = 1 && ! grep -q model_sparse '$tmp/err' && grep -q DUSt3R_ViTLarge '$tmp/err'"

D="$SHARED/golden/dust3r"
G="$SHARED/golden/dynamicrafter"
I="$SHARED/data/SfM_quality_evaluation/Benchmarking_Camera_Calibration_2008/castle-P30/images"
if [ ! -f "$G/unet_tiny.ckpt" ] || [ ! -f "$D/tiny.pth" ] || [ ! -f "$I/0010.jpg" ]; then
    if [ -n "${CI:-}" ] && [ "${CI}" != 0 ] && [ "${CI}" != false ]; then echo "FAIL: shared data missing"; exit 1; fi
    echo "SKIP: shared data missing ($G, $D, $I)"
    [ "$fail" = 0 ] && exit 77 || exit 1
fi
run() {  # run OUT_DIR [extra options...]
    local out=$1; shift
    "$BIN" pose "$I/0010.jpg" "$I/0014.jpg" --dust3r "$D/tiny.pth" \
        --interp-model "$G/unet_tiny.ckpt" --interp-model "$G/vae_tiny.ckpt" --interp-model "$G/clip_tiny.ckpt" \
        --vc-model "$G/unet_tiny.ckpt" --vc-model "$G/vae_tiny.ckpt" --vc-model "$G/clip_tiny.ckpt" \
        --vocab "$G/bpe_simple_vocab_16e6.txt.gz" --head-channels 16 --clip-heads 4,4,3 \
        --size 128x64 --vc-size 128x64 --frames 4 --poses 7 --steps 2 --dust3r-size 64 --niter 20 --threads 2 \
        -o "$out" "$@"
}
pngsize() { echo "$((16#$(od -An -tx1 -j16 -N4 "$1" | tr -d ' \n')))x$((16#$(od -An -tx1 -j20 -N4 "$1" | tr -d ' \n')))"; }
# one pose.json number: jnum FILE KEY -> the value after "KEY": (first occurrence)
rline() { tr -d ' \t\n' <"$1" | grep -o '"R":\[\[[^]]*\],\[[^]]*\],\[[^]]*\]\]'; }
tline() { tr -d ' \t\n' <"$1" | grep -o '"t":\[[^]]*\]'; }
export -f pngsize rline tline

# a wrong checkpoint is caught in stage 1, before any diffusion
"$BIN" pose "$I/0010.jpg" "$I/0014.jpg" --dust3r "$G/vae_tiny.ckpt" --interp-model "$G/unet_tiny.ckpt" \
    --vocab "$G/bpe_simple_vocab_16e6.txt.gz" --no-hvg -o "$tmp/w" >/dev/null 2>"$tmp/errw"; rc=$?
check "wrong DUSt3R file -> exit 1 in stage 1 naming the file and the missing tensor" bash -c \
    "test $rc = 1 && grep -q 'DUSt3R model: .*vae_tiny.ckpt.*patch_embed' '$tmp/errw' && ! grep -q '2/7' '$tmp/errw'"
run "$tmp/a" --fms-threshold 0 --k 3 --json >"$tmp/pose.json" 2>"$tmp/err"; rc=$?
check "pipeline (tiny models) exits 0" test "$rc" = 0
[ "$rc" = 0 ] || cat "$tmp/err"
check "progress: 7 stages, DDIM steps with ETA, peak memory" bash -c \
    "grep -q '\[7/7 pose\] done' '$tmp/err' && grep -q '2/2 .* ETA' '$tmp/err' && grep -q 'peak memory' '$tmp/err'"
check "stdout JSON == OUT/pose.json" cmp -s "$tmp/pose.json" "$tmp/a/pose.json"
check "pose.json: method, R (3x3), unit t, intrinsics, selection, timings" bash -c \
    "grep -q '\"method\":.*\"posecrafter\"' '$tmp/pose.json' && [ -n \"\$(tr -d ' \t\n' <'$tmp/pose.json' | grep -o '\"R\":\[\[[^]]*\],\[[^]]*\],\[[^]]*\]\]')\" ] && \
     grep -q '\"intrinsics\"' '$tmp/pose.json' && grep -q '\"frames\"' '$tmp/pose.json' && grep -q '\"hvg\":' '$tmp/pose.json' && \
     grep -q '\"total\":' '$tmp/pose.json'"
# |t| = 1 and R orthonormal (awk on the parsed numbers)
nums=$(rline "$tmp/pose.json" | tr -c '0-9eE.+-' ' ')
tnums=$(tline "$tmp/pose.json" | tr -c '0-9eE.+-' ' ')
check "R is a rotation, |t| = 1" awk -v r="$nums" -v t="$tnums" 'BEGIN {
    n = split(r, R, " "); m = split(t, T, " "); if (n != 9 || m != 3) exit 1;
    for (i = 0; i < 3; i++) for (j = 0; j < 3; j++) { s = 0; for (k = 1; k <= 3; k++) s += R[3*i+k] * R[3*j+k];
        if ((i == j && (s < 0.999 || s > 1.001)) || (i != j && (s < -0.001 || s > 0.001))) exit 1 }
    s = T[1]*T[1] + T[2]*T[2] + T[3]*T[3]; exit !(s > 0.999 && s < 1.001) }'
check "4 interpolation frames 128x64" bash -c "ls '$tmp/a/interp' | grep -c 'frame_0[0-3].png' | grep -qx 4 && \
    test \"\$(od -An -tx1 -j16 -N8 '$tmp/a/interp/frame_03.png' | tr -d ' \n')\" = 0000008000000040"
check "relay: cameras.json, COLMAP, PLY, 4 relay frames" bash -c "cd '$tmp/a/relay' && test -s cameras.json && \
    test -s cameras.txt && test -s images.txt && test -s points.ply && ls relay_0[0-3].png | wc -l | grep -qx 4"
check "7 renders + trajectory.json, 7 ViewCrafter frames" bash -c "ls '$tmp/a/renders' | grep -c render_ | grep -qx 7 && \
    test -s '$tmp/a/renders/trajectory.json' && ls '$tmp/a/hvg' | grep -c 'frame_' | grep -qx 7"
check "ViewCrafter frame is 128x64" test "$(pngsize "$tmp/a/hvg/frame_06.png")" = 128x64
check "selection.tsv: header + 7 rows, 3 selected" bash -c "test \$(grep -vc '^#' '$tmp/a/selection.tsv') = 8 && \
    test \$(awk -F'\t' 'NR > 2 && \$9 == 1' '$tmp/a/selection.tsv' | wc -l) = 3"
check "final reconstruction over A, B and 3 frames" bash -c "test -s '$tmp/a/final/points.ply' && \
    test \$(grep -c '\"file\"' '$tmp/a/final/cameras.json') = 5"
check "contact sheet written" bash -c "test \"\$(pngsize '$tmp/a/contact_sheet.png')\" = 1194x312"

# stage cache: the same run reuses interp, relay and hvg and gives the same pose
run "$tmp/a" --fms-threshold 0 --k 3 --json >"$tmp/pose2.json" 2>"$tmp/err2"; rc=$?
check "re-run: exit 0, three stages from the cache" bash -c \
    "test $rc = 0 && test \$(grep -c 'loaded from the stage cache' '$tmp/err2') = 3 && ! grep -q 'DDIM\|/2 ' '$tmp/err2'"
check "re-run: identical R and t" bash -c "test \"\$(rline '$tmp/pose.json')\" = \"\$(rline '$tmp/pose2.json')\" && \
    test \"\$(tline '$tmp/pose.json')\" = \"\$(tline '$tmp/pose2.json')\""
# default FMS threshold on noise frames: nothing selected -> A and B alone (PairViewer), still a pose
run "$tmp/a" --json >"$tmp/t.json" 2>"$tmp/errt"; rc=$?
check "default threshold: 0 frames pass on random-weight frames, pose from A and B (stages cached)" bash -c \
    "test $rc = 0 && grep -q '0 of 7 frames selected' '$tmp/errt' && test \$(grep -c 'loaded from the stage cache' '$tmp/errt') = 3"
# ablations, on the cached frames
for s in all conf scs; do
    run "$tmp/a" --selector $s --k 2 --scs-subsets 3 --json >"$tmp/s_$s.json" 2>"$tmp/err_$s"; rc=$?
    check "--selector $s runs" bash -c "test $rc = 0 && grep -q '\"selector\":.*\"$s\"' '$tmp/s_$s.json'"
done
check "--selector all keeps all 7 frames; conf and scs keep k = 2" bash -c \
    "tr -d ' \t\n' <'$tmp/s_all.json' | grep -q '\"frames\":\[0,1,2,3,4,5,6\]' && \
     tr -d ' \t\n' <'$tmp/s_conf.json' | grep -q '\"frames\":\[[0-9]*,[0-9]*\]' && \
     tr -d ' \t\n' <'$tmp/s_scs.json' | grep -q '\"frames\":\[[0-9]*,[0-9]*\]'"
# a crash during ViewCrafter leaves no stage.key: only that stage is redone, with the same result
rm -f "$tmp/a/hvg/stage.key" "$tmp/a/hvg/frame_04.png"
run "$tmp/a" --fms-threshold 0 --k 3 --json >"$tmp/pose3.json" 2>"$tmp/err3"; rc=$?
check "lost hvg stage: interp + relay cached, hvg recomputed, same pose" bash -c \
    "test $rc = 0 && test \$(grep -c 'loaded from the stage cache' '$tmp/err3') = 2 && \
     grep -q '\[5/7 hvg\] loading ViewCrafter' '$tmp/err3' && test -f '$tmp/a/hvg/frame_04.png' && \
     test \"\$(rline '$tmp/pose.json')\" = \"\$(rline '$tmp/pose3.json')\""
# a corrupt cache file (truncated relay cameras, truncated ViewCrafter frame) is not trusted: recomputed, same pose
head -c 100 "$tmp/a/relay/relay_cameras.npy" >"$tmp/x" && cp "$tmp/x" "$tmp/a/relay/relay_cameras.npy"
head -c 500 "$tmp/a/hvg/frame_03.png" >"$tmp/x" && cp "$tmp/x" "$tmp/a/hvg/frame_03.png"
run "$tmp/a" --fms-threshold 0 --k 3 --json >"$tmp/pose4.json" 2>"$tmp/err4c"; rc=$?
check "corrupt cached relay/hvg files: those stages recomputed, same pose" bash -c \
    "test $rc = 0 && test \$(grep -c 'loaded from the stage cache' '$tmp/err4c') = 1 && \
     grep -q '\[3/7 relay\] DUSt3R on 12 pairs' '$tmp/err4c' && \
     test \"\$(rline '$tmp/pose.json')\" = \"\$(rline '$tmp/pose4.json')\""
# known intrinsics of A and B (castle-P30's calibration, pixels of the 3072x2048 files): the three diffusion
# stages come from the cache (the key does not depend on K), pose.json says both were fixed and reports them
KA=2759.48,2764.16,1520.69,1006.81
run "$tmp/a" --fms-threshold 0 --k 3 --K-a "$KA" --K-b "$KA" --json >"$tmp/poseK.json" 2>"$tmp/errK"; rc=$?
check "--K-a/--K-b: runs from the cache, pose.json marks A and B fixed with the given fx, fy, cx, cy" bash -c \
    "test $rc = 0 && test \$(grep -c 'loaded from the stage cache' '$tmp/errK') = 3 && \
     test \$(tr -d ' \t\n' <'$tmp/poseK.json' | grep -o '\"fixed\":true' | wc -l) = 2 && \
     tr -d ' \t\n' <'$tmp/poseK.json' | grep -q '\"A\":{\"fx\":2759.48,\"fy\":2764.16,\"cx\":1520.69,\"cy\":1006.81'"
check "without --K-a the intrinsics are estimated (fixed: false)" bash -c \
    "test \$(tr -d ' \t\n' <'$tmp/pose.json' | grep -o '\"fixed\":false' | wc -l) = 2"
"$BIN" pose a.jpg b.jpg --K-a 100,100,50 >/dev/null 2>"$tmp/errk"; rc=$?
check "malformed --K-a -> exit 2 naming it" bash -c "test $rc = 2 && grep -q -- '--K-a' '$tmp/errk'"
# MASt3R as the backbone (tiny golden model): relay and final reconstructions recomputed with it (the relay
# key depends on the backbone), interpolation + ViewCrafter from the cache; a DUSt3R file as --mast3r is refused
M3="$SHARED/golden/mast3r/tiny.pth"
run "$tmp/a" --fms-threshold 0 --k 3 --backbone mast3r --mast3r "$M3" --json >"$tmp/poseM.json" 2>"$tmp/errM"; rc=$?
check "--backbone mast3r: runs, relay recomputed with MASt3R, pose.json says so" bash -c \
    "test $rc = 0 && grep -q '\[3/7 relay\] MASt3R on 12 pairs' '$tmp/errM' && grep -q '\[7/7 pose\] MASt3R + global alignment' '$tmp/errM' && \
     test \$(grep -c 'loaded from the stage cache' '$tmp/errM') = 1 && grep -q '\"backbone\":.*\"mast3r\"' '$tmp/poseM.json'"
run "$tmp/a" --fms-threshold 0 --k 3 --backbone mast3r-sparse --mast3r "$M3" --json >"$tmp/poseS.json" 2>"$tmp/errS"; rc=$?
check "--backbone mast3r-sparse: relay and final by MASt3R's sparse global alignment" bash -c \
    "test $rc = 0 && grep -q '\[3/7 relay\] MASt3R (sparse GA) on 12 pairs' '$tmp/errS' && \
     grep -q '\[7/7 pose\] MASt3R + sparse global alignment' '$tmp/errS' && grep -q '\"backbone\":.*\"mast3r-sparse\"' '$tmp/poseS.json' && \
     test -s '$tmp/a/relay/points.ply' && test -s '$tmp/a/final/cameras.json'"
run "$tmp/a" --fms-threshold 0 --k 3 --backbone mast3r --mast3r "$D/tiny.pth" >/dev/null 2>"$tmp/errM2"; rc=$?
check "--backbone mast3r with a DUSt3R checkpoint -> exit 1 in stage 1, saying which it is" bash -c \
    "test $rc = 1 && grep -q 'is a DUSt3R checkpoint, not MASt3R' '$tmp/errM2' && ! grep -q '2/7' '$tmp/errM2'"
# a truncated checkpoint fails in stage 1 with the reader's message
head -c 3000000 "$D/tiny.pth" >"$tmp/trunc.pth"
"$BIN" pose "$I/0010.jpg" "$I/0014.jpg" --dust3r "$tmp/trunc.pth" --interp-model "$G/unet_tiny.ckpt" \
    --vocab "$G/bpe_simple_vocab_16e6.txt.gz" --no-hvg -o "$tmp/w2" >/dev/null 2>"$tmp/errt2"; rc=$?
check "truncated DUSt3R checkpoint -> exit 1 in stage 1, 'truncated' in the message" bash -c \
    "test $rc = 1 && grep -q 'DUSt3R model: .*trunc.pth.*truncated' '$tmp/errt2' && ! grep -q '2/7' '$tmp/errt2'"
# another seed invalidates the interpolation; --no-hvg selects among the DynamiCrafter frames
run "$tmp/a" --no-hvg --fms-threshold 0 --k 2 --seed 7 --bf16 --json >"$tmp/n.json" 2>"$tmp/errn"; rc=$?
check "--seed 7 --no-hvg --bf16: interp recomputed, no ViewCrafter, candidates = the 4 interpolation frames" bash -c \
    "test $rc = 0 && ! grep -q 'stage cache' '$tmp/errn' && ! grep -q '5/7 hvg' '$tmp/errn' && \
     grep -q '\"candidates\":.*\"interp\"' '$tmp/n.json' && grep -q '\"n_candidates\":.*4' '$tmp/n.json' && \
     grep -q '\"diffusion_bf16\":.*true' '$tmp/n.json'"
run "$tmp/a" --no-hvg --fms-threshold 0 --k 2 --seed 7 --bf16 --no-cache >/dev/null 2>"$tmp/err5"; rc=$?
check "--no-cache recomputes" bash -c "test $rc = 0 && ! grep -q 'stage cache' '$tmp/err5' && grep -q '2/7 interp\] loading' '$tmp/err5'"

echo "cli_pose_pipeline: $fail failure(s)"
[ "$fail" = 0 ]
