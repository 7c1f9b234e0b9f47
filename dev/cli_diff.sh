#!/usr/bin/env bash
# Refactor check: compare the outputs two builds' CLI tests kept (PC_CLI_KEEP=DIR ctest -R '^cli_').
# Usage: dev/cli_diff.sh BEFORE_DIR AFTER_DIR
# Binary files must be byte-identical. Text files are compared after masking what differs between any two
# runs: wall-clock times, scratch folder names, the checkout path, dates, the measured FMA peak. Left out:
# what a test makes from random bytes or a free port by design (cli_get_models' fixtures, the corrupt
# checkpoint of cli_dust3r) and cli_install's build trees (objects and libraries, not CLI output).
set -uo pipefail
a=$1; b=$2
skip() { case "$1" in cli_get_models/*|cli_install/*|cli_dust3r/bad.pth|cli_dust3r/log2) return 0;; esac; return 1; }
mask() {
  case "$1" in *.json) jq -S 'walk(if type == "object" then del(.timings_s, .peak_rss_bytes) else . end)' "$1" 2>/dev/null | mask_text; return;; esac
  mask_text <"$1"
}
mask_text() {
  sed -E -e 's#[0-9.]+ GFLOP/s#N GFLOP/s#g' -e 's#\| [0-9.]+ \|$#| T |#' -e 's#"timings_s":\{[^}]*\}#"timings_s":T#g'  -e 's#/tmp/tmp\.[A-Za-z0-9]+#TMP#g' -e 's#/work/[A-Za-z0-9_.-]+/#SRC/#g' \
         -e 's#[0-9]+(\.[0-9]+)? ?(s|ms|min)\b#T#g' -e 's#[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+Z?#DATE#g' \
         -e 's#"(seconds|wall_s|time_s|elapsed_s|peak_rss_gib|rss_gib)": *[0-9.e+-]+#"\1": T#g'
}
nd=0; nsame=0
while IFS= read -r f; do
  rel=${f#"$a"/}
  if skip "$rel"; then continue; fi
  if [ ! -e "$b/$rel" ]; then echo "only in before: $rel"; nd=$((nd + 1)); continue; fi
  if cmp -s "$f" "$b/$rel"; then nsame=$((nsame + 1)); continue; fi
  if grep -Iq . "$f" 2>/dev/null || [ ! -s "$f" ]; then
    if diff <(mask "$f") <(mask "$b/$rel") >/dev/null; then nsame=$((nsame + 1)); continue; fi
    echo "differs: $rel"; diff <(mask "$f") <(mask "$b/$rel") | head -8; nd=$((nd + 1))
  else
    echo "differs (binary): $rel"; nd=$((nd + 1))
  fi
done < <(find "$a" -type f | sort)
while IFS= read -r f; do rel=${f#"$b"/}; skip "$rel" || [ -e "$a/$rel" ] || { echo "only in after: $rel"; nd=$((nd + 1)); }; done < <(find "$b" -type f | sort)
echo "$nsame identical, $nd different"
[ "$nd" = 0 ]
