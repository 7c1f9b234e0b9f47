#!/usr/bin/env bash
# Download the published checkpoints that `posecrafter pose --models DIR` finds,
# under the names it looks for, checked against the hub's own size + sha256.
#
#   scripts/get_models.sh [DIR] [--list] [--viewcrafter sparse|25|512] [--mast3r] [-h]
#
#   DIR            target folder (default: $POSECRAFTER_MODELS, else ./models)
#   --list         print the files, their sizes and the total, then exit
#   --viewcrafter  which ViewCrafter the pipeline will use (default sparse, as `pose`)
#   --mast3r       also MASt3R ViT-L/512 (for `pose --backbone mast3r`, `posecrafter mast3r`)
#
# What it fetches (DIR/<name>):
#   DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors  naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt  model.safetensors
#   dynamicrafter_512_interp_v1/model.ckpt           Doubiiu/DynamiCrafter_512_Interp            model.ckpt
#   ViewCrafter_25_sparse/model_sparse.ckpt          Drexubery/ViewCrafter_25_sparse             (--viewcrafter sparse)
#   ViewCrafter_25/model.ckpt                        Drexubery/ViewCrafter_25                    (--viewcrafter 25)
#   ViewCrafter_25_512/model_512.ckpt                Drexubery/ViewCrafter_25_512                (--viewcrafter 512)
#   bpe_simple_vocab_16e6.txt.gz                     open_clip v2.22.0 (GitHub; size + sha256 pinned here)
#   MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.safetensors  naver/MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric
#                                                    model.safetensors (with --mast3r)
# The open_clip ViT-H image tower and the text tower come inside the DynamiCrafter and
# ViewCrafter checkpoints (embedder.*, cond_stage_model.*): nothing else is needed.
#
# Behaviour: sizes and sha256 come from the Hugging Face model API
# (GET $HF_ENDPOINT/api/models/<repo>/revision/main?blobs=true: every LFS file's
# size and sha256); the file is fetched at that same commit into NAME.part,
# resumed where an earlier run stopped (HTTP Range), retried on transient
# errors, and renamed to NAME only after its size and sha256 match. A mismatch
# removes the .part and is reported; no partial or unverified file ever sits
# under the final name. A verified file is recorded in DIR/.verified/ so a
# re-run skips it without hashing 10 GB again. Fails at once, before any
# download, when the hub cannot be reached or DIR's disk lacks the space.
#
# Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (sent as a
# bearer token when set), PC_VOCAB_URL, PC_GET_RETRIES (5), PC_GET_RETRY_DELAY
# (seconds before the first retry, doubling; 2), PC_PROGRESS_INTERVAL (seconds
# between progress lines when stderr is not a terminal; 15).
# Exit status: 0 all present and verified; 1 a download or check failed;
# 2 bad usage; 3 no network / hub unreachable; 4 not enough disk space.
set -uo pipefail

HF_ENDPOINT=${HF_ENDPOINT:-https://huggingface.co}
HF_ENDPOINT=${HF_ENDPOINT%/}
VOCAB_URL=${PC_VOCAB_URL:-https://raw.githubusercontent.com/mlfoundations/open_clip/v2.22.0/src/open_clip/bpe_simple_vocab_16e6.txt.gz}
VOCAB_SIZE=1356917
VOCAB_SHA256=924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a
RETRIES=${PC_GET_RETRIES:-5}
RETRY_DELAY=${PC_GET_RETRY_DELAY:-2}
PROGRESS_INTERVAL=${PC_PROGRESS_INTERVAL:-15}
MARGIN=$((256 * 1024 * 1024))  # free space kept beyond the downloads themselves

die() { local code=$1; shift; echo "get_models: $*" >&2; exit "$code"; }
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

DIR="" LIST=0 VC=sparse MAST3R=0
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --list) LIST=1 ;;
        --mast3r) MAST3R=1 ;;
        --viewcrafter)
            [ $# -ge 2 ] || die 2 "--viewcrafter needs a value: sparse, 25 or 512"
            VC=$2; shift ;;
        --viewcrafter=*) VC=${1#*=} ;;
        -*) usage >&2; die 2 "unknown option '$1'" ;;
        *) [ -z "$DIR" ] || die 2 "more than one folder given ('$DIR', '$1')"; DIR=$1 ;;
    esac
    shift
done
case $VC in
    sparse) VC_REPO=Drexubery/ViewCrafter_25_sparse VC_FILE=model_sparse.ckpt VC_DEST=ViewCrafter_25_sparse/model_sparse.ckpt ;;
    25) VC_REPO=Drexubery/ViewCrafter_25 VC_FILE=model.ckpt VC_DEST=ViewCrafter_25/model.ckpt ;;
    512) VC_REPO=Drexubery/ViewCrafter_25_512 VC_FILE=model_512.ckpt VC_DEST=ViewCrafter_25_512/model_512.ckpt ;;
    *) die 2 "--viewcrafter must be sparse, 25 or 512 (got '$VC')" ;;
esac
DIR=${DIR:-${POSECRAFTER_MODELS:-models}}

for tool in curl sha256sum jq df; do
    command -v "$tool" >/dev/null 2>&1 ||
        die 1 "needs '$tool' (Debian: sudo apt-get install curl jq coreutils; scripts/setup.sh installs them)"
done

# The files: repo (or "url:" for a plain URL), file in the repo, destination under DIR.
REPOS=(naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt Doubiiu/DynamiCrafter_512_Interp "$VC_REPO" "url:$VOCAB_URL")
FILES=(model.safetensors model.ckpt "$VC_FILE" bpe_simple_vocab_16e6.txt.gz)
DESTS=(DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors dynamicrafter_512_interp_v1/model.ckpt "$VC_DEST"
       bpe_simple_vocab_16e6.txt.gz)
if [ $MAST3R = 1 ]; then
    REPOS+=(naver/MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric)
    FILES+=(model.safetensors)
    DESTS+=(MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.safetensors)
fi
N=${#FILES[@]}
SIZES=() SHAS=() URLS=()

AUTH=()
[ -n "${HF_TOKEN:-}" ] && AUTH=(-H "Authorization: Bearer $HF_TOKEN")

# ---- metadata: size + sha256 of every file, before anything is written ----------------
meta_err=$(mktemp)
trap 'rm -f "$meta_err"' EXIT
for ((i = 0; i < N; i++)); do
    repo=${REPOS[i]} file=${FILES[i]}
    if [[ $repo == url:* ]]; then
        SIZES[i]=$VOCAB_SIZE SHAS[i]=$VOCAB_SHA256 URLS[i]=${repo#url:}
        continue
    fi
    api="$HF_ENDPOINT/api/models/$repo/revision/main?blobs=true"
    json=$(curl -fsS --connect-timeout 10 --max-time 60 "${AUTH[@]}" "$api" 2>"$meta_err")
    rc=$?
    if [ $rc != 0 ]; then
        case $rc in
            5|6|7|28|35|52|56) die 3 "no network: cannot reach $HF_ENDPOINT ($(tr -d '\n' <"$meta_err")); nothing was downloaded" ;;
            *) die 1 "the hub refused the metadata request $api ($(tr -d '\n' <"$meta_err"))" ;;
        esac
    fi
    rec=$(jq -r --arg f "$file" '
        (.sha // "") as $c
        | [.siblings[]? | select(.rfilename == $f)][0]
        | if . == null then "missing" else "\(.lfs.size // .size // "")\t\(.lfs.sha256 // .lfs.oid // "")\t\($c)" end' \
        <<<"$json" 2>/dev/null) || die 1 "unreadable metadata from $api"
    [ "$rec" != missing ] || die 1 "$repo has no file $file (hub metadata $api)"
    IFS=$'\t' read -r size sha commit <<<"$rec"
    [[ $size =~ ^[0-9]+$ ]] || die 1 "$repo/$file: the hub lists no size; refusing an unverifiable download"
    [[ $sha =~ ^[0-9a-f]{64}$ ]] || die 1 "$repo/$file: the hub lists no sha256; refusing an unverifiable download"
    [[ $commit =~ ^[0-9a-f]{40}$ ]] || commit=main
    SIZES[i]=$size SHAS[i]=$sha URLS[i]="$HF_ENDPOINT/$repo/resolve/$commit/$file"
done

human() { awk -v b="$1" 'BEGIN { if (b >= 2^30) printf "%.2f GiB", b / 2^30; else if (b >= 2^20) printf "%.1f MiB", b / 2^20; else if (b >= 2^10) printf "%.1f KiB", b / 2^10; else printf "%d B", b }'; }
part_size() { [ -f "$1" ] && stat -c %s "$1" || echo 0; }
stamp_of() { echo "$DIR/.verified/${DESTS[$1]//\//__}"; }
# A final file counts as present when a stamp recorded its sha256 at its current size and mtime.
is_verified() {
    local i=$1 f="$DIR/${DESTS[$1]}" st
    [ -f "$f" ] || return 1
    st=$(stamp_of "$i")
    [ -f "$st" ] && [ "$(cat "$st")" = "${SHAS[i]} $(stat -c '%s %Y' "$f")" ]
}

# ---- plan -------------------------------------------------------------------------------
total=0 need=0
printf '%-52s %12s  %s\n' "file (under $DIR)" size status
for ((i = 0; i < N; i++)); do
    f="$DIR/${DESTS[i]}" size=${SIZES[i]}
    total=$((total + size))
    if is_verified "$i"; then
        status="present, verified"
    elif [ -f "$f" ]; then
        status="present, will be checked"
        [ "$(stat -c %s "$f")" = "$size" ] || status="present with the wrong size: will be replaced"
        [ "$(stat -c %s "$f")" = "$size" ] || need=$((need + size))
    else
        have=$(part_size "$f.part")
        [ "$have" -le "$size" ] || have=0
        need=$((need + size - have))
        status="to download"
        [ "$have" = 0 ] || status="partial: resumes at $(human "$have") ($((100 * have / size))%)"
    fi
    printf '%-52s %12s  %s\n' "${DESTS[i]}" "$(human "$size")" "$status"
done
printf '%-52s %12s  (%s still to download)\n' total "$(human "$total")" "$(human "$need")"
[ $LIST = 1 ] && exit 0

mkdir -p "$DIR" "$DIR/.verified" || die 1 "cannot create $DIR"
avail=${PC_FREE_BYTES:-}  # PC_FREE_BYTES: test hook standing in for df
[ -n "$avail" ] || avail=$(( $(df -Pk "$DIR" | awk 'NR == 2 { print $4 }') * 1024 ))
if [ "$need" -gt 0 ] && [ $((need + MARGIN)) -gt "$avail" ]; then
    die 4 "not enough disk space in $DIR: $(human "$need") to download (+ $(human $MARGIN) margin), $(human "$avail") free"
fi

# ---- download + verify ------------------------------------------------------------------
# Progress on a terminal: curl's bar. Otherwise (logs, CI) one line every PROGRESS_INTERVAL s.
progress_lines() {  # progress_lines PART SIZE NAME
    while sleep "$PROGRESS_INTERVAL"; do
        local have; have=$(part_size "$1")
        echo "  $3: $(human "$have") of $(human "$2") ($((100 * have / $2))%)" >&2
    done
}

fetch() {  # fetch i: NAME.part complete (size checked) or return 1
    local i=$1 url=${URLS[$1]} size=${SIZES[$1]} part="$DIR/${DESTS[$1]}.part" try=0 delay=$RETRY_DELAY rc have
    local auth=()
    [[ $url == "$HF_ENDPOINT"/* ]] && auth=("${AUTH[@]}")
    while :; do
        have=$(part_size "$part")
        [ "$have" -le "$size" ] || { rm -f "$part"; have=0; }
        [ "$have" -lt "$size" ] || return 0
        [ "$have" = 0 ] || echo "  resuming ${DESTS[i]} at $(human "$have")" >&2
        local meter=(-sS) mon=""
        if [ -t 2 ]; then meter=(--progress-bar); else progress_lines "$part" "$size" "${DESTS[i]}" & mon=$!; fi
        curl -fL --connect-timeout 20 --speed-limit 1024 --speed-time 60 "${meter[@]}" "${auth[@]}" \
            -C - -o "$part" "$url"
        rc=$?
        [ -z "$mon" ] || { kill "$mon" 2>/dev/null; wait "$mon" 2>/dev/null; }
        have=$(part_size "$part")
        [ $rc != 0 ] || [ "$have" -lt "$size" ] || return 0
        if [ $rc = 33 ]; then  # the server ignored the Range request: start this file again
            rm -f "$part"
        fi
        try=$((try + 1))
        if [ $try -gt "$RETRIES" ]; then
            echo "get_models: ${DESTS[i]}: download failed after $RETRIES retries (curl exit $rc, $(human "$have") of $(human "$size")); run again to resume" >&2
            return 1
        fi
        echo "  ${DESTS[i]}: interrupted (curl exit $rc) at $(human "$have"); retry $try of $RETRIES in ${delay}s" >&2
        sleep "$delay"
        delay=$((delay * 2 > 60 ? 60 : delay * 2))
    done
}

verify_into_place() {  # verify_into_place i PART: size + sha256 of PART, then rename it to the final name
    local i=$1 src=$2 f="$DIR/${DESTS[$1]}" size got
    size=$(stat -c %s "$src")
    if [ "$size" != "${SIZES[i]}" ]; then
        echo "get_models: ${DESTS[i]}: size $size, expected ${SIZES[i]}; removed" >&2
        rm -f "$src"
        return 1
    fi
    echo "  checking sha256 of ${DESTS[i]} ($(human "$size")) ..." >&2
    got=$(sha256sum "$src" | cut -d' ' -f1)
    if [ "$got" != "${SHAS[i]}" ]; then
        echo "get_models: ${DESTS[i]}: sha256 $got does not match the published ${SHAS[i]}; the download was removed" >&2
        rm -f "$src"
        return 1
    fi
    mv -f "$src" "$f" || return 1
    echo "${SHAS[i]} $(stat -c '%s %Y' "$f")" >"$(stamp_of "$i")"
    return 0
}

failed=0
for ((i = 0; i < N; i++)); do
    f="$DIR/${DESTS[i]}"
    is_verified "$i" && continue
    mkdir -p "$(dirname "$f")"
    if [ -f "$f" ] && [ "$(stat -c %s "$f")" = "${SIZES[i]}" ]; then
        # A file of the right size from elsewhere (copied by hand): hash it once, keep it if it matches,
        # else move it aside to NAME.rejected and download the published one.
        echo "  checking sha256 of the existing ${DESTS[i]} ..." >&2
        if [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${SHAS[i]}" ]; then
            echo "${SHAS[i]} $(stat -c '%s %Y' "$f")" >"$(stamp_of "$i")"
            continue
        fi
        echo "get_models: the existing $f does not match the published sha256; moved to $f.rejected" >&2
        mv -f "$f" "$f.rejected" || { failed=$((failed + 1)); continue; }
    fi
    echo "[$((i + 1))/$N] ${DESTS[i]} ($(human "${SIZES[i]}")) from ${URLS[i]}" >&2
    if fetch "$i" && verify_into_place "$i" "$f.part"; then
        echo "  ok: $f" >&2
    else
        failed=$((failed + 1))
    fi
done

if [ $failed != 0 ]; then
    echo "get_models: $failed of $N files failed; run the same command again to resume" >&2
    exit 1
fi
echo "all $N files present and verified in $DIR" >&2
echo "next: POSECRAFTER_MODELS=$DIR scripts/pose.sh A.jpg B.jpg" >&2
exit 0
