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
# known intrinsics (pixels of the files) are mapped through load_images' resize + crop and held fixed; the
# cameras report them in the preprocessed pixels: Chateau1.png is 224x224 -> 64x64 (scale 2/7) -> centre crop
# 64x48 (rows 8..55), so fx 196, fy 210 -> 56, 60 (one focal: 58), pp (111.5, 111.5) -> (112 * 2/7 - 0.5,
# 112 * 2/7 - 0.5 - 8) = (31.5, 23.5)
"$BIN" align --model "$D/tiny.pth" "$A" "$B" "$C" --size 64 --niter 30 --device cpu --K 0:196,210,111.5,111.5 \
    --K Chateau2.png:196,196,112,112 -o "$tmp/K" >"$tmp/outK" 2>"$tmp/errK"; rc=$?
check "--K by index and by file name: exit 0, both views marked fixed" bash -c \
    "test $rc = 0 && test \$(grep -c '(fixed)' '$tmp/outK') = 2 && grep -q '^view 0 .*focal 58.0000 (fixed)' '$tmp/outK' && \
     grep -q '^view 1 .*focal 56.0000 (fixed)' '$tmp/outK' && ! grep -q '^view 2 .*(fixed)' '$tmp/outK'"
check "cameras.json: view 0 has the mapped principal point (31.5, 23.5)" bash -c \
    "tr -d ' \t\n' <'$tmp/K/cameras.json' | grep -q '\"cx\":31.5,\"cy\":23.5'"
printf '{"0": [196, 210, 111.5, 111.5], "Chateau2.png": {"fx": 196, "fy": 196, "cx": 112, "cy": 112}}' >"$tmp/K.json"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" "$C" --size 64 --niter 30 --device cpu --intrinsics "$tmp/K.json" \
    -o "$tmp/KJ" >"$tmp/outKJ" 2>/dev/null; rc=$?
check "--intrinsics JSON gives the same cameras as the --K flags" bash -c \
    "test $rc = 0 && cmp -s '$tmp/K/cameras.json' '$tmp/KJ/cameras.json'"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" --size 64 --K 5:1,1,0,0 -o "$tmp/bad" >/dev/null 2>"$tmp/errk"; rc=$?
check "--K for a view that is not there -> exit 2 naming it" bash -c "test $rc = 2 && grep -q \"no view '5'\" '$tmp/errk'"
printf '{"0": [400, 420]}' >"$tmp/Kbad.json"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" --size 64 --intrinsics "$tmp/Kbad.json" -o "$tmp/bad" >/dev/null 2>"$tmp/errj"; rc=$?
check "a malformed intrinsics JSON -> exit 2 naming the file" bash -c "test $rc = 2 && grep -q 'Kbad.json' '$tmp/errj'"
M3="$SHARED/golden/mast3r/tiny.pth"
"$BIN" align --model "$M3" "$A" "$B" "$C" --size 64 --device cpu --sparse -o "$tmp/sga" >"$tmp/outS" 2>"$tmp/errS"; rc=$?
check "--sparse with MASt3R: 3 views by the sparse global alignment, the usual writers" bash -c \
    "test $rc = 0 && grep -q 'MASt3R sparse global alignment' '$tmp/errS' && test \$(grep -c '\"file\"' '$tmp/sga/cameras.json') = 3 && \
     test -s '$tmp/sga/points.ply' && test \$(grep -c '^view ' '$tmp/outS') = 3"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" --size 64 --device cpu --sparse -o "$tmp/sgd" >/dev/null 2>"$tmp/errSD"; rc=$?
check "--sparse with a DUSt3R checkpoint -> exit 1 saying MASt3R is needed" bash -c "test $rc = 1 && grep -q 'needs a MASt3R' '$tmp/errSD'"
"$BIN" align --model "$D/tiny.pth" "$A" "$B" --graph nonsense -o "$tmp/bad" >/dev/null 2>"$tmp/errb"; rc=$?
check "unknown scene graph -> exit 1 with a message" bash -c "test $rc = 1 && test -s '$tmp/errb'"
"$BIN" align --model "$D/tiny.pth" "$A" "$tmp/missing.png" -o "$tmp/bad" >/dev/null 2>"$tmp/errm"; rc=$?
check "missing image -> exit 1 naming it" bash -c "test $rc = 1 && grep -q missing.png '$tmp/errm'"
"$BIN" align --model "$D/tiny.pth" "$A" -o "$tmp/bad" >/dev/null 2>&1; rc=$?
check "one image -> exit 2" test "$rc" = 2
echo "cli_align: $fail failure(s)"
[ "$fail" = 0 ]
