#!/usr/bin/env bash
# CLI test for `posecrafter align --model` (DUSt3R on a scene graph + global alignment + writers) with the
# tiny golden DUSt3R model: outputs, PairViewer for two views, scene graphs, clear errors.
# $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"
D="$SHARED/golden/dust3r"
if [ ! -f "$D/tiny.pth" ]; then
    if [ -n "${CI:-}" ] && [ "${CI}" != 0 ] && [ "${CI}" != false ]; then echo "FAIL: shared data missing"; exit 1; fi
    echo "SKIP: shared data missing ($D)"
    exit 77
fi
A="$D/images/Chateau1.png"; B="$D/images/Chateau2.png"; C="$D/images/scene0711_00_frame-001680.jpg"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" "$C" --size 64 --niter 30 --device cpu -o "$tmp/three" \
    >"$tmp/out3" 2>"$tmp/err3"; rc=$?
check "3 views: exit 0" test "$rc" = 0
check "3 views: cameras.json with 3 views, COLMAP text, PLY" bash -c "test \$(grep -c '\"file\"' '$tmp/three/cameras.json') = 3 && \
    test -s '$tmp/three/cameras.txt' && test -s '$tmp/three/images.txt' && test -s '$tmp/three/points3D.txt' && \
    head -c 3 '$tmp/three/points.ply' | grep -q ply"
check "3 views: one line per view, loss reported" bash -c "test \$(grep -c '^view ' '$tmp/out3') = 3 && \
    grep -q 'graph complete, 30 iterations: loss' '$tmp/err3'"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" "$C" --size 64 --niter 30 --graph swin-1 --device cpu -o "$tmp/swin" \
    >/dev/null 2>"$tmp/errs"; rc=$?
check "--graph swin-1 runs" bash -c "test $rc = 0 && grep -q 'graph swin-1' '$tmp/errs'"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" --size 64 --device cpu -o "$tmp/two" >/dev/null 2>"$tmp/err2"; rc=$?
check "2 views: PairViewer" bash -c "test $rc = 0 && grep -q PairViewer '$tmp/err2' && \
    test \$(grep -c '\"file\"' '$tmp/two/cameras.json') = 2"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" --graph nonsense -o "$tmp/bad" >/dev/null 2>"$tmp/errb"; rc=$?
check "unknown scene graph -> exit 1 with a message" bash -c "test $rc = 1 && test -s '$tmp/errb'"
"$BIN" align --model "$D/tiny.pth" "$A" "$tmp/missing.png" -o "$tmp/bad" >/dev/null 2>"$tmp/errm"; rc=$?
check "missing image -> exit 1 naming it" bash -c "test $rc = 1 && grep -q missing.png '$tmp/errm'"
"$BIN" align --model "$D/tiny.pth" "$A" -o "$tmp/bad" >/dev/null 2>&1; rc=$?
check "one image -> exit 2" test "$rc" = 2
echo "cli_align: $fail failure(s)"
[ "$fail" = 0 ]
