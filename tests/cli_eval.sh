#!/usr/bin/env bash
# posecrafter eval / eval-merge: resume after interruption, shards, corrupt lines, errors.
# Args: $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1; SHARED=$2
DATA="$SHARED/data/SuperGluePretrainedNetwork/assets"
if [ ! -f "$DATA/scannet_sample_pairs_with_gt.txt" ]; then
  if [ -n "${CI:-}" ]; then echo "FAIL: $DATA missing under CI"; exit 1; fi
  echo "SKIP: $DATA missing"; exit 77
fi
. "$(dirname "$0")/lib_cli.sh"
W=$tmp
pass=0; fail=0
ok() { if "$@"; then pass=$((pass+1)); echo "  ok   $CHECK"; else fail=$((fail+1)); echo "  FAIL $CHECK"; fi; }
# 4 pairs; the results must not depend on timing
head -4 "$DATA/scannet_sample_pairs_with_gt.txt" > "$W/pairs.txt"
ROOT="$DATA/scannet_sample_images"
run() { "$BIN" eval --pairs "$W/pairs.txt" --root "$ROOT" --method classical --runs 2 --threads 2 --quiet "$@"; }
table() { grep '^| classical' "$1" | cut -d'|' -f1-18; }   # drop the timing column

CHECK="full run"; ok run --results "$W/full.jsonl" --md "$W/full.md" > /dev/null
CHECK="full run wrote 8 result lines"; ok test "$(wc -l < "$W/full.jsonl")" = 8

CHECK="interrupted run (--max-new 3) stops early"; ok run --results "$W/res.jsonl" --max-new 3 > /dev/null
CHECK="  ... with 3 lines"; ok test "$(wc -l < "$W/res.jsonl")" = 3
CHECK="resume completes"; ok run --results "$W/res.jsonl" --md "$W/res.md" > /dev/null
CHECK="  ... with 8 lines, no pair repeated"; ok test "$(cut -d, -f1-4 "$W/res.jsonl" | sort -u | wc -l)" = 8
CHECK="resumed table == uninterrupted table"; ok diff <(table "$W/full.md") <(table "$W/res.md")

# a real kill -9 in the middle, then resume
"$BIN" eval --pairs "$W/pairs.txt" --root "$ROOT" --method classical --runs 2 --threads 2 --quiet --results "$W/kill.jsonl" > /dev/null 2>&1 &
pid=$!; sleep 1.5; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
CHECK="after kill -9 every line is complete JSON"; ok bash -c "! grep -qv '}\$' '$W/kill.jsonl' 2>/dev/null"
CHECK="resume after kill -9"; ok run --results "$W/kill.jsonl" --md "$W/kill.md" > /dev/null
CHECK="killed+resumed table == uninterrupted table"; ok diff <(table "$W/full.md") <(table "$W/kill.md")

for i in 1 2 3; do run --shard $i/3 --results "$W/shard$i.jsonl" > /dev/null; done
CHECK="merge of shards 1/3..3/3"; ok "$BIN" eval-merge "$W/shard1.jsonl" "$W/shard2.jsonl" "$W/shard3.jsonl" --pairs "$W/pairs.txt" --root "$ROOT" --runs 2 --md "$W/merged.md" > /dev/null
CHECK="merged shards table == unsharded table"; ok diff <(table "$W/full.md") <(table "$W/merged.md")
CHECK="merge detects missing pairs"; ok bash -c "! '$BIN' eval-merge '$W/shard1.jsonl' --pairs '$W/pairs.txt' --root '$ROOT' --runs 2 > /dev/null 2> '$W/missing.err' && grep -q missing '$W/missing.err'"
CHECK="merge reports identical duplicates and keeps them once"; ok bash -c "'$BIN' eval-merge '$W/full.jsonl' '$W/full.jsonl' > /dev/null 2> '$W/dup.err' && grep -q 'identical' '$W/dup.err'"

cp "$W/full.jsonl" "$W/bad.jsonl"; echo '{"id": "broken' >> "$W/bad.jsonl"; sed -i '2s/.*/not json at all/' "$W/bad.jsonl"
CHECK="merge reports corrupt lines with line numbers and fails"; ok bash -c "! '$BIN' eval-merge '$W/bad.jsonl' > /dev/null 2> '$W/bad.err' && grep -q 'bad.jsonl:2: corrupt' '$W/bad.err' && grep -q 'bad.jsonl:9: corrupt' '$W/bad.err'"
run --results "$W/bad.jsonl" > /dev/null 2> "$W/bad2.err"
CHECK="eval reports corrupt lines and re-runs their pairs"; ok bash -c "grep -q 'bad.jsonl:2: corrupt' '$W/bad2.err' && test \$(grep -c '^{\"id\":\"' '$W/bad.jsonl') = 8"

CHECK="unknown method lists the available ones"; ok bash -c "! '$BIN' eval --pairs '$W/pairs.txt' --method nope 2> '$W/m.err' && grep -q classical '$W/m.err'"
printf 'a.jpg b.jpg 0 0 1 2 3\n' > "$W/short.txt"
CHECK="malformed pair list: clear error with line number"; ok bash -c "! '$BIN' eval --pairs '$W/short.txt' --method classical 2> '$W/s.err' && grep -q 'short.txt:1: expected 38 fields' '$W/s.err'"
CHECK="--plot writes a PNG"; ok bash -c "'$BIN' eval-merge '$W/full.jsonl' --plot '$W/curves.png' > /dev/null 2>&1 && head -c 8 '$W/curves.png' | grep -q PNG"

TINY="$SHARED/golden/dust3r/tiny.pth"
CHECK="dust3r-pair method (tiny golden model) gives a pose per pair"; ok bash -c "'$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method dust3r-pair --model '$TINY' --size 224 --runs 1 --quiet --results '$W/d.jsonl' > /dev/null && test \$(grep -c '\"ok\":true' '$W/d.jsonl') = 4"
CHECK="dust3r-pair --known-intrinsics: the pairs' K fixed, results recorded as method dust3r-pair+K"; ok bash -c "'$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method dust3r-pair --known-intrinsics --model '$TINY' --size 224 --runs 1 --quiet --results '$W/dk.jsonl' > /dev/null && test \$(grep -c '\"ok\":true' '$W/dk.jsonl') = 4 && test \$(grep -c '\"method\":\"dust3r-pair+K\"' '$W/dk.jsonl') = 4"
CHECK="classical --known-intrinsics: refused (it always uses K)"; ok bash -c "! '$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method classical --known-intrinsics --quiet --results '$W/ck.jsonl' 2>/dev/null"
TINY_M3="$SHARED/golden/mast3r/tiny.pth"
CHECK="mast3r-pair (tiny golden MASt3R) gives a pose per pair"; ok bash -c "'$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method mast3r-pair --model '$TINY_M3' --size 224 --runs 1 --quiet --results '$W/m.jsonl' > /dev/null && test \$(grep -c '\"ok\":true' '$W/m.jsonl') = 4 && test \$(grep -c '\"method\":\"mast3r-pair\"' '$W/m.jsonl') = 4"
CHECK="mast3r-sga (sparse global alignment on the pair) gives a pose per pair"; ok bash -c "'$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method mast3r-sga --model '$TINY_M3' --size 224 --runs 1 --quiet --results '$W/ms.jsonl' > /dev/null && test \$(grep -c '\"ok\":true' '$W/ms.jsonl') = 4"
CHECK="mast3r-pair with a DUSt3R checkpoint: clear error"; ok bash -c "! '$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method mast3r-pair --model '$TINY' --quiet --results '$W/m2.jsonl' 2> '$W/m2.err' && grep -q 'is a DUSt3R checkpoint' '$W/m2.err'"
CHECK="--backbone mast3r is for the posecrafter methods"; ok bash -c "! '$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method dust3r-pair --backbone mast3r --model '$TINY' --quiet --results '$W/m3.jsonl' 2>/dev/null"
CHECK="dust3r-pair without --model: clear error"; ok bash -c "! '$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method dust3r-pair --quiet --results '$W/d2.jsonl' 2> '$W/d2.err' && grep -q 'needs --model' '$W/d2.err'"
CHECK="posecrafter method without models: clear error naming the checkpoints"; ok bash -c "! POSECRAFTER_MODELS= '$BIN' eval --pairs '$W/pairs.txt' --root '$ROOT' --method posecrafter --quiet --results '$W/p.jsonl' 2> '$W/p.err' && grep -q DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth '$W/p.err' && grep -q model_sparse.ckpt '$W/p.err'"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
