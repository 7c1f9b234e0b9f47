#!/usr/bin/env bash
# CLI test for `posecrafter select` (Feature Matching Selector) on real photos:
# $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"

"$BIN" select >/dev/null 2>"$tmp/err"; rc=$?
check "no arguments -> usage, exit 2" test "$rc" = 2
"$BIN" select a.png b.png >/dev/null 2>&1; rc=$?
check "no frames -> exit 2" test "$rc" = 2
"$BIN" select a.png b.png c.png -k x >/dev/null 2>&1; rc=$?
check "bad -k -> exit 2" test "$rc" = 2
"$BIN" select a.png b.png c.png --bogus >/dev/null 2>&1; rc=$?
check "unknown option -> exit 2" test "$rc" = 2
"$BIN" select "$tmp/missing_a.png" "$tmp/missing_b.png" "$tmp/missing_c.png" >/dev/null 2>"$tmp/err"; rc=$?
check "missing file -> exit 1 naming it" bash -c "test $rc = 1 && grep -q missing_a.png '$tmp/err'"

T="$SHARED/data/Structure-From-Motion/templeRing"
S="$SHARED/data/SuperGluePretrainedNetwork/assets/scannet_sample_images"
if [ ! -f "$T/templeR0014.png" ] || [ ! -f "$S/scene0722_00_frame-000045.jpg" ]; then
    if [ -n "${CI:-}" ] && [ "${CI}" != 0 ] && [ "${CI}" != false ]; then echo "FAIL: shared data missing"; exit 1; fi
    echo "SKIP: shared data missing ($T, $S)"
    [ "$fail" = 0 ] && exit 77 || exit 1
fi
cp "$T/templeR0010.png" "$tmp/copy_of_A.png"
# frames 0-2: temple views between A (view 10) and B (view 14); 3-5: other scenes; 6: A itself
frames=("$T/templeR0011.png" "$T/templeR0012.png" "$T/templeR0013.png"
        "$S/scene0722_00_frame-000045.jpg" "$S/scene0738_00_frame-000885.jpg" "$S/scene0744_00_frame-000585.jpg"
        "$tmp/copy_of_A.png")
"$BIN" select "$T/templeR0010.png" "$T/templeR0014.png" "${frames[@]}" -k 2 --threads 2 --json >"$tmp/out.json" 2>"$tmp/err"; rc=$?
check "select --json exits 0" test "$rc" = 0
[ "$rc" = 0 ] || cat "$tmp/err"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$tmp/out.json" >"$tmp/py.txt" 2>&1 <<'PY'
import json, sys
lines = open(sys.argv[1]).read().strip().split("\n")
assert len(lines) == 1, "one JSON object on one line"
d = json.loads(lines[0])
fr = d["frames"]
assert len(fr) == 7 and d["k"] == 2 and d["threshold"] > 0
for f in fr:
    assert f["S"] == f["N_A"] + f["N_B"], f
    assert 0 <= f["N_A"] <= f["matches_a"] <= f["keypoints"] and 0 <= f["N_B"] <= f["matches_b"]
sel = d["selected"]
assert len(sel) == 2, sel
assert all(i in (0, 1, 2) for i in sel), ("selected a frame of another scene", sel)
assert fr[sel[0]]["S"] >= fr[sel[1]]["S"]
assert all(fr[i]["selected"] for i in sel)
for i in (3, 4, 5):
    assert fr[i]["S"] < d["threshold"] and not fr[i]["selected"], ("unrelated frame over threshold", fr[i])
assert fr[6]["excluded"] and not fr[6]["selected"], "copy of A not excluded"
best_other = max(fr[i]["S"] for i in (3, 4, 5))
print("selected", sel, "S", [fr[i]["S"] for i in range(7)], "best unrelated", best_other)
PY
    rc=$?
    cat "$tmp/py.txt"
    check "JSON: S = N_A + N_B, temple frames selected, other scenes below threshold, copy of A excluded" test "$rc" = 0
else
    check "JSON has frames and selected" grep -q '"selected":\[' "$tmp/out.json"
fi
"$BIN" select "$T/templeR0010.png" "$T/templeR0014.png" "${frames[@]}" -k 2 --exclude 0 >"$tmp/table.txt" 2>&1; rc=$?
check "table mode exits 0" test "$rc" = 0
check "table: header with N_A, N_B, S" grep -q "N_A.*N_B.*S" "$tmp/table.txt"
check "table: frame 0 marked excluded (--exclude 0)" grep -q "templeR0011.png  (excluded)" "$tmp/table.txt"
check "table: a 'selected' summary line" grep -q "^selected 2 of k=2" "$tmp/table.txt"
[ "$fail" = 0 ] || cat "$tmp/table.txt"
[ "$fail" = 0 ]
