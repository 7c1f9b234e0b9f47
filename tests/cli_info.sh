#!/usr/bin/env bash
# CLI test for `posecrafter info`: $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"

# errors first: they need no golden data
"$BIN" info >/dev/null 2>"$tmp/err"; rc=$?
check "no FILE -> usage, exit 2" test "$rc" = 2
printf 'this is not a checkpoint at all\n' >"$tmp/junk.bin"
"$BIN" info "$tmp/junk.bin" >/dev/null 2>"$tmp/err"; rc=$?
check "junk file -> exit 1" test "$rc" = 1
check "junk file -> clear message" grep -q "unknown checkpoint format" "$tmp/err"
"$BIN" info "$tmp/missing.pth" >/dev/null 2>"$tmp/err"; rc=$?
check "missing file -> exit 1 naming the file" bash -c "test $rc = 1 && grep -q missing.pth '$tmp/err'"
printf 'PK\003\004truncated zip archive, no central directory here' >"$tmp/trunc.pth"
"$BIN" info "$tmp/trunc.pth" >/dev/null 2>"$tmp/err"; rc=$?
check "truncated zip -> exit 1, end-of-central-directory message" \
    bash -c "test $rc = 1 && grep -q 'end-of-central-directory' '$tmp/err'"
"$BIN" info --bogus x >/dev/null 2>&1; rc=$?
check "unknown option -> exit 2" test "$rc" = 2

G="$SHARED/golden/dust3r"
if [ ! -f "$G/tiny.pth" ] || [ ! -f "$G/tiny.safetensors" ]; then
    if [ -n "${CI:-}" ] && [ "${CI}" != 0 ] && [ "${CI}" != false ]; then echo "FAIL: golden data missing"; exit 1; fi
    echo "SKIP: golden data missing ($G)"
    [ "$fail" = 0 ] && exit 77 || exit 1
fi
"$BIN" info "$G/tiny.pth" >"$tmp/pth.txt" 2>&1; rc=$?
check "info tiny.pth exits 0" test "$rc" = 0
check "tiny.pth: format torch-zip" grep -q "^format: *torch-zip" "$tmp/pth.txt"
check "tiny.pth: 373 tensors" grep -q "^tensors: *373$" "$tmp/pth.txt"
check "tiny.pth: 2527080 parameters" grep -q "^parameters: *2527080 " "$tmp/pth.txt"
check "tiny.pth: dtype histogram" grep -q "F32: 373 tensors / 2527080 values" "$tmp/pth.txt"
check "tiny.pth: args.model printed" grep -q "^args.model: AsymmetricCroCo3DStereo(pos_embed='RoPE100'" "$tmp/pth.txt"
"$BIN" info "$G/tiny.safetensors" --list >"$tmp/st.txt" 2>&1; rc=$?
check "info --list tiny.safetensors exits 0" test "$rc" = 0
check "tiny.safetensors: format safetensors" grep -q "^format: *safetensors" "$tmp/st.txt"
check "tiny.safetensors: args from __metadata__" grep -q "^args.model: AsymmetricCroCo3DStereo(" "$tmp/st.txt"
check "--list shows shapes" grep -Eq "patch_embed.proj.weight +F32 +\(128, 3, 16, 16\)" "$tmp/st.txt"
check "--list shows 373 tensor lines" test "$(grep -c '^  [a-z_].* F32 ' "$tmp/st.txt")" = 373
head -c 5000 "$G/tiny.pth" >"$tmp/cut.pth"
"$BIN" info "$tmp/cut.pth" >/dev/null 2>"$tmp/err"; rc=$?
check "tiny.pth cut to 5000 bytes -> exit 1 with a message" bash -c "test $rc = 1 && test -s '$tmp/err'"
echo "$fail failed"
[ "$fail" = 0 ]
