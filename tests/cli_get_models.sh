#!/usr/bin/env bash
# Offline test of scripts/get_models.sh: $1 = posecrafter binary, $2 = shared dir.
# A loopback HTTP server (tests/http_fixture.c, 127.0.0.1, exits by itself after
# 90 s) plays the Hugging Face hub: model API metadata with sizes and sha256,
# resolve URLs with HTTP Range, and a GitHub-like URL for the real CLIP BPE file
# (whose size and sha256 the script pins). The "checkpoints" are small random files.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"
SRC=${PC_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
GET="$SRC/scripts/get_models.sh"
FIX=${PC_HTTP_FIXTURE:-$(dirname "$BIN")/pc_http_fixture}
VOCAB="$SHARED/golden/dynamicrafter/bpe_simple_vocab_16e6.txt.gz"
if [ ! -f "$VOCAB" ]; then
    if [ "${CI:-}" = true ]; then echo "FAIL: $VOCAB missing under CI"; exit 1; fi
    echo "skip: $VOCAB not found"; exit 77
fi
for tool in curl jq sha256sum; do
    command -v $tool >/dev/null || { echo "FAIL: $tool not installed (scripts/setup.sh installs it)"; exit 1; }
done
[ -x "$FIX" ] || { echo "FAIL: no test server at $FIX"; exit 1; }

# ---- the fake hub ---------------------------------------------------------------------
hub=$tmp/hub
COMMIT=0123456789abcdef0123456789abcdef01234567
# make_repo ENDPOINT_DIR REPO FILE SIZE [SHA_OVERRIDE]: random file + metadata listing it
make_repo() {
    local root=$1 repo=$2 file=$3 size=$4 sha
    mkdir -p "$root/$repo/resolve/$COMMIT" "$root/api/models/$repo/revision"
    head -c "$size" /dev/urandom >"$root/$repo/resolve/$COMMIT/$file"
    sha=${5:-$(sha256sum "$root/$repo/resolve/$COMMIT/$file" | cut -d' ' -f1)}
    jq -n --arg c $COMMIT --arg f "$file" --arg s "$sha" --argjson n "$size" --arg id "$repo" \
        '{id: $id, sha: $c, siblings: [{rfilename: "README.md", size: 10},
          {rfilename: $f, size: $n, lfs: {sha256: $s, size: $n, pointerSize: 134}}]}' \
        >"$root/api/models/$repo/revision/main"
}
make_repo "$hub" naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt model.safetensors 300000
make_repo "$hub" Doubiiu/DynamiCrafter_512_Interp model.ckpt 500000
make_repo "$hub" Drexubery/ViewCrafter_25_sparse model_sparse.ckpt 200000
make_repo "$hub" Drexubery/ViewCrafter_25 model.ckpt 100000
make_repo "$hub" Drexubery/ViewCrafter_25_512 model_512.ckpt 150000
make_repo "$hub" naver/MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric model.safetensors 120000
mkdir -p "$hub/gh"
cp "$VOCAB" "$hub/gh/bpe_simple_vocab_16e6.txt.gz"
# A second endpoint (same server, path prefix /bad): ViewCrafter's listed sha256 is wrong,
# DynamiCrafter's listing has no sha256 at all.
bad=$hub/bad
make_repo "$bad" naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt model.safetensors 1000
make_repo "$bad" Drexubery/ViewCrafter_25_sparse model_sparse.ckpt 2000 \
    ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
make_repo "$bad" Doubiiu/DynamiCrafter_512_Interp model.ckpt 3000
jq 'del(.siblings[1].lfs)' "$bad/api/models/Doubiiu/DynamiCrafter_512_Interp/revision/main" >"$tmp/nolfs.json"
cp "$tmp/nolfs.json" "$bad/api/models/Doubiiu/DynamiCrafter_512_Interp/revision/main"

# The first GET of the DynamiCrafter file is cut after 120000 bytes: an interrupted download.
log=$tmp/server.log
"$FIX" --root "$hub" --port-file "$tmp/port" --log "$log" --max-seconds 90 \
    --cut "/Doubiiu/DynamiCrafter_512_Interp/resolve/$COMMIT/model.ckpt:120000" &
srv=$!
trap 'kill $srv 2>/dev/null; pc_cli_exit' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
PORT=$(cat "$tmp/port" 2>/dev/null)
check "test server listening on 127.0.0.1" test -n "$PORT"
export HF_ENDPOINT="http://127.0.0.1:$PORT" PC_VOCAB_URL="http://127.0.0.1:$PORT/gh/bpe_simple_vocab_16e6.txt.gz"
export PC_GET_RETRY_DELAY=0 PC_PROGRESS_INTERVAL=1
unset POSECRAFTER_MODELS HF_TOKEN PC_FREE_BYTES

M=$tmp/models
# --list: files, sizes, total; writes nothing
bash "$GET" "$M" --list >"$tmp/list" 2>&1; rc=$?
cat "$tmp/list"
check "--list exits 0" test $rc = 0
check "--list names the four files under their discovered names" bash -c "
    grep -q '^DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors .*293.0 KiB' '$tmp/list' &&
    grep -q '^dynamicrafter_512_interp_v1/model.ckpt' '$tmp/list' &&
    grep -q '^ViewCrafter_25_sparse/model_sparse.ckpt' '$tmp/list' &&
    grep -q '^bpe_simple_vocab_16e6.txt.gz .*1.3 MiB' '$tmp/list'"
check "--list prints the total" grep -Eq '^total +2\.2 MiB' "$tmp/list"
check "--list creates nothing" test ! -e "$M"
bash "$GET" "$M" --list --viewcrafter 512 >"$tmp/list512" 2>&1
check "--viewcrafter 512 lists ViewCrafter_25_512/model_512.ckpt" grep -q '^ViewCrafter_25_512/model_512.ckpt' "$tmp/list512"
bash "$GET" "$M" --viewcrafter 7 >/dev/null 2>&1; rc=$?
check "bad --viewcrafter -> exit 2" test $rc = 2

# no network: nothing listening on the endpoint
HF_ENDPOINT=http://127.0.0.1:9 bash "$GET" "$M" >"$tmp/nonet" 2>&1; rc=$?
cat "$tmp/nonet"
check "unreachable hub -> exit 3 at once, saying so" bash -c "test $rc = 3 && grep -q 'no network' '$tmp/nonet'"
check "unreachable hub -> nothing written" test ! -e "$M"

# not enough disk (PC_FREE_BYTES stands in for df)
PC_FREE_BYTES=1000000 bash "$GET" "$M" >"$tmp/nodisk" 2>&1; rc=$?
cat "$tmp/nodisk"
check "too little free space -> exit 4 before any download" bash -c "
    test $rc = 4 && grep -q 'not enough disk space' '$tmp/nodisk' && ! grep -q resolve '$log'"

# resume: a .part left by an earlier run holds the first 100000 bytes of the DUSt3R file
mkdir -p "$M"
head -c 100000 "$hub/naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt/resolve/$COMMIT/model.safetensors" \
    >"$M/DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors.part"
bash "$GET" "$M" >"$tmp/get1" 2>&1; rc=$?
cat "$tmp/get1"
cat "$log"
check "download exits 0" test $rc = 0
check "the .part was resumed with a Range request from byte 100000" \
    grep -q "^GET /naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt/resolve/$COMMIT/model.safetensors bytes=100000- 206" "$log"
check "the interrupted transfer was retried from where it stopped (byte 120000)" \
    grep -q "^GET /Doubiiu/DynamiCrafter_512_Interp/resolve/$COMMIT/model.ckpt bytes=120000- 206" "$log"
check "the retry was reported" grep -q 'interrupted (curl exit' "$tmp/get1"
same() { cmp -s "$1" "$2"; }
check "DUSt3R file identical to the published one" \
    same "$M/DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors" "$hub/naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt/resolve/$COMMIT/model.safetensors"
check "DynamiCrafter file identical" \
    same "$M/dynamicrafter_512_interp_v1/model.ckpt" "$hub/Doubiiu/DynamiCrafter_512_Interp/resolve/$COMMIT/model.ckpt"
check "ViewCrafter file identical" \
    same "$M/ViewCrafter_25_sparse/model_sparse.ckpt" "$hub/Drexubery/ViewCrafter_25_sparse/resolve/$COMMIT/model_sparse.ckpt"
check "vocab identical" same "$M/bpe_simple_vocab_16e6.txt.gz" "$VOCAB"
check "no .part file left" bash -c "! find '$M' -name '*.part' | grep -q ."
"$BIN" pose --list-models --models "$M" >"$tmp/found" 2>&1; rc=$?
cat "$tmp/found"
check "pose --models finds every file it downloaded" bash -c "test $rc = 0 &&
    grep -qx 'dust3r: $M/DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors' '$tmp/found' &&
    grep -qx 'dynamicrafter: $M/dynamicrafter_512_interp_v1/model.ckpt' '$tmp/found' &&
    grep -qx 'viewcrafter: $M/ViewCrafter_25_sparse/model_sparse.ckpt' '$tmp/found' &&
    grep -qx 'vocab: $M/bpe_simple_vocab_16e6.txt.gz' '$tmp/found'"
"$BIN" pose --list-models --models "$tmp/empty" >"$tmp/none" 2>&1; rc=$?
check "pose --list-models names what is missing (exit 1)" bash -c "test $rc = 1 && grep -q 'lacks:' '$tmp/none'"

# a re-run downloads nothing and hashes nothing
n_get=$(grep -c resolve "$log")
bash "$GET" "$M" >"$tmp/get2" 2>&1; rc=$?
check "re-run exits 0" test $rc = 0
check "re-run: every file 'present, verified'" test "$(grep -c 'present, verified' "$tmp/get2")" = 4
check "re-run: no file requested again" test "$(grep -c resolve "$log")" = "$n_get"

# --mast3r adds the MASt3R checkpoint (the others are already verified) under the name --backbone mast3r finds
bash "$GET" "$M" --mast3r >"$tmp/getm" 2>&1; rc=$?
"$BIN" pose --list-models --backbone mast3r --models "$M" >"$tmp/foundm" 2>&1; rc2=$?
check "--mast3r: downloads MASt3R only, and pose --backbone mast3r finds it" bash -c "test $rc = 0 && test $rc2 = 0 && \
    test \$(grep -c 'present, verified' '$tmp/getm') = 4 && \
    grep -qx 'mast3r: $M/MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.safetensors' '$tmp/foundm'"
n_get=$(grep -c resolve "$log")
# a file changed on disk (same size) is hashed again, moved aside and downloaded again
f="$M/ViewCrafter_25_sparse/model_sparse.ckpt"
printf 'X' | dd of="$f" bs=1 seek=10 conv=notrunc 2>/dev/null
touch -d '2020-01-01' "$f"
bash "$GET" "$M" >"$tmp/get3" 2>&1; rc=$?
check "changed file: replaced by the published one" bash -c "test $rc = 0 && test -f '$f.rejected' &&
    cmp -s '$f' '$hub/Drexubery/ViewCrafter_25_sparse/resolve/$COMMIT/model_sparse.ckpt'"

# a wrong checksum is refused: nothing under the final name, the .part removed
B=$tmp/models_bad
HF_ENDPOINT="http://127.0.0.1:$PORT/bad" bash "$GET" "$B" >"$tmp/bad1" 2>&1; rc=$?
cat "$tmp/bad1"
check "metadata without a sha256 -> refused before any download (exit 1)" bash -c "
    test $rc = 1 && grep -q 'lists no sha256' '$tmp/bad1' && test ! -e '$B'"
# the same endpoint with DynamiCrafter's listing repaired: now only ViewCrafter's sha256 is wrong
make_repo "$bad" Doubiiu/DynamiCrafter_512_Interp model.ckpt 3000
HF_ENDPOINT="http://127.0.0.1:$PORT/bad" bash "$GET" "$B" >"$tmp/bad2" 2>&1; rc=$?
cat "$tmp/bad2"
check "sha256 mismatch -> exit 1, named" bash -c "test $rc = 1 && grep -q 'does not match the published' '$tmp/bad2'"
check "sha256 mismatch -> no file under the final name" test ! -e "$B/ViewCrafter_25_sparse/model_sparse.ckpt"
check "sha256 mismatch -> no .part left" test ! -e "$B/ViewCrafter_25_sparse/model_sparse.ckpt.part"
check "the files that matched are in place" test -f "$B/dynamicrafter_512_interp_v1/model.ckpt"

# progress: a slow server (100 ms per 64 KiB) and a non-terminal stderr -> periodic progress lines
"$FIX" --root "$hub" --port-file "$tmp/port2" --max-seconds 30 --delay-ms 100 &
srv2=$!
for _ in $(seq 100); do [ -s "$tmp/port2" ] && break; sleep 0.05; done
P2=$(cat "$tmp/port2" 2>/dev/null)
HF_ENDPOINT="http://127.0.0.1:$P2" PC_VOCAB_URL="http://127.0.0.1:$P2/gh/bpe_simple_vocab_16e6.txt.gz" \
    bash "$GET" "$tmp/models_slow" >"$tmp/slow" 2>&1; rc=$?
kill $srv2 2>/dev/null
grep '%)$' "$tmp/slow" | head -3
check "progress lines while downloading (size done of total, percent)" bash -c "
    test $rc = 0 && grep -Eq '^  bpe_simple_vocab_16e6.txt.gz: [0-9.]+ [KM]iB of 1.3 MiB \([0-9]+%\)$' '$tmp/slow'"

echo "$fail failed"
[ "$fail" = 0 ]
