#!/usr/bin/env bash
# CLI test for `posecrafter mast3r` with the tiny golden MASt3R model on the golden ScanNet pair: every output
# file with its shape, the reciprocal matches (as many as upstream's fast_reciprocal_NNs gives: 327),
# clear errors. $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"
M="$SHARED/golden/mast3r"
if [ ! -f "$M/tiny.pth" ]; then
    if [ -n "${CI:-}" ] && [ "${CI}" != 0 ] && [ "${CI}" != false ]; then echo "FAIL: shared data missing"; exit 1; fi
    echo "SKIP: shared data missing ($M)"
    exit 77
fi
A="$M/images/scene0711_00_frame-001680.jpg"; B="$M/images/scene0711_00_frame-001995.jpg"
if [ "${PC_SANITIZE:-OFF}" = ON ]; then  # the 512 matching takes minutes under ASan: the Release suite runs it
    "$BIN" mast3r --model "$M/tiny.pth" "$A" "$B" -o "$tmp/o" --size 224 --device cpu >"$tmp/out" 2>"$tmp/err"; rc=$?
    cat "$tmp/out"
    check "sanitizer build, size 224: exit 0, descriptors and matches written" bash -c \
        "test $rc = 0 && test -s '$tmp/o/desc_1.npy' && test -s '$tmp/o/matches.png' && grep -q '^matches: ' '$tmp/out'"
    echo "cli_mast3r: $fail failure(s)"
    [ "$fail" = 0 ]
    exit
fi
"$BIN" mast3r --model "$M/tiny.pth" "$A" "$B" -o "$tmp/o" --device cpu >"$tmp/out" 2>"$tmp/err"; rc=$?
cat "$tmp/out"
check "exit 0" test "$rc" = 0
for f in pts3d_1.npy pts3d_2.npy conf_1.npy conf_2.npy desc_1.npy desc_2.npy desc_conf_1.npy desc_conf_2.npy \
         matches.txt matches.png cloud.ply depth_1.png depth_2.png conf_1.png conf_2.png; do
    check "writes $f" test -s "$tmp/o/$f"
done
check "desc_1.npy is (368, 512, 24) float32" bash -c "head -c 128 '$tmp/o/desc_1.npy' | tr -d ' ' | grep -aq \"'descr':'<f4'.*'shape':(368,512,24,\\?)\""
check "desc_conf_2.npy is (368, 512)" bash -c "head -c 128 '$tmp/o/desc_conf_2.npy' | tr -d ' ' | grep -aq \"'shape':(368,512,\\?)\""
check "pts3d_2.npy is (368, 512, 3)" bash -c "head -c 128 '$tmp/o/pts3d_2.npy' | tr -d ' ' | grep -aq \"'shape':(368,512,3,\\?)\""
check "327 reciprocal matches, as upstream's fast_reciprocal_NNs on this pair" test "$(wc -l <"$tmp/o/matches.txt")" = 327
check "matches.txt: 'x1 y1 x2 y2' inside the 512x368 inputs, sorted by the first image's pixel index" \
    awk 'NF != 4 || $1 < 0 || $1 >= 512 || $2 < 0 || $2 >= 368 || $3 < 0 || $3 >= 512 || $4 < 0 || $4 >= 368 { bad = 1 }
         { k = $2 * 512 + $1; if (NR > 1 && k < prev) bad = 1; prev = k } END { exit bad }' "$tmp/o/matches.txt"
check "matches.png is both inputs side by side (1024x368)" bash -c \
    "test \"\$(od -An -tx1 -j16 -N8 '$tmp/o/matches.png' | tr -d ' \n')\" = 0000040000000170"
check "reports the matches" grep -q '^matches: 327 reciprocal of 2944 grid queries' "$tmp/out"
"$BIN" mast3r --model "$SHARED/golden/dust3r/tiny.pth" "$A" "$B" -o "$tmp/d" --device cpu >/dev/null 2>"$tmp/errd"; rc=$?
check "a DUSt3R checkpoint -> exit 1 saying so, nothing written" bash -c \
    "test $rc = 1 && grep -q 'is a DUSt3R checkpoint' '$tmp/errd' && test ! -e '$tmp/d'"
"$BIN" mast3r --model "$M/tiny.pth" "$A" "$B" -o "$tmp/s" --subsample 0 >/dev/null 2>&1; rc=$?
check "bad --subsample -> exit 2" test "$rc" = 2
"$BIN" dust3r --model "$M/tiny.pth" "$A" "$B" -o "$tmp/dd" --device cpu >/dev/null 2>&1; rc=$?
check "posecrafter dust3r on a MASt3R checkpoint: its pointmaps (no descriptor files)" bash -c \
    "test $rc = 0 && test -s '$tmp/dd/pts3d_1.npy' && test ! -e '$tmp/dd/desc_1.npy' && cmp -s '$tmp/dd/pts3d_2.npy' '$tmp/o/pts3d_2.npy'"
"$BIN" --help >"$tmp/usage" 2>&1
check "listed in the command table" grep -q '^  mast3r ' "$tmp/usage"
echo "cli_mast3r: $fail failure(s)"
[ "$fail" = 0 ]
