#!/usr/bin/env bash
# CLI test of the shared option parser (tools/cli_opts.c): every subcommand answers a wrong option or value the
# same way (exit 2, one line naming the option, the value and what was expected), generates --help from its
# table (with defaults), and takes --name=value. $1 = posecrafter binary, $2 = shared dir (unused).
set -u
BIN=$1
. "$(dirname "$0")/lib_cli.sh"

for c in pose interp eval eval-merge eval-convert select dust3r mast3r align info devices; do
    "$BIN" $c --no-such-option >"$tmp/o" 2>"$tmp/e"; rc=$?
    check "$c: unknown option -> exit 2, named, pointing at --help" \
        bash -c "test $rc = 2 && grep -q \"posecrafter $c: unknown option '--no-such-option' (see posecrafter $c --help)\" '$tmp/e'"
    "$BIN" $c --help >"$tmp/h" 2>&1; rc=$?
    check "$c: --help exits 0 with a usage line" bash -c "test $rc = 0 && grep -q '^usage: posecrafter $c' '$tmp/h'"
done
# numbers: range and form, the same message everywhere
"$BIN" pose --k 0 a.png b.png 2>"$tmp/e"; rc=$?
check "pose --k 0 -> expected range" bash -c "test $rc = 2 && grep -qx \"posecrafter pose: --k: expected a whole number in \\[1, 256\\], got '0'\" '$tmp/e'"
"$BIN" interp --steps 1x a b 2>"$tmp/e"; rc=$?
check "interp --steps 1x -> same form" bash -c "test $rc = 2 && grep -qx \"posecrafter interp: --steps: expected a whole number in \\[1, 1000\\], got '1x'\" '$tmp/e'"
"$BIN" eval --runs=0 --pairs p --method classical 2>"$tmp/e"; rc=$?
check "eval --runs=0 (=value form) -> same form" bash -c "test $rc = 2 && grep -qx \"posecrafter eval: --runs: expected a whole number in \\[1, 100\\], got '0'\" '$tmp/e'"
"$BIN" pose --frames 5 a b 2>"$tmp/e"; rc=$?
check "pose --frames 5 -> multiple of 2" bash -c "test $rc = 2 && grep -q 'a multiple of 2' '$tmp/e'"
"$BIN" pose --selector best a b 2>"$tmp/e"; rc=$?
check "pose --selector best -> lists the choices" bash -c "test $rc = 2 && grep -q 'expected one of fms, scs, all, conf' '$tmp/e'"
"$BIN" pose --size 10x10 a b 2>"$tmp/e"; rc=$?
check "pose --size 10x10 -> WxH range" bash -c "test $rc = 2 && grep -q 'expected WxH with W and H in \\[16, 4096\\]' '$tmp/e'"
"$BIN" select a b c -k 2>"$tmp/e"; rc=$?
check "select -k without a value -> needs a value" bash -c "test $rc = 2 && grep -q 'posecrafter select: -k needs a value' '$tmp/e'"
"$BIN" info --list=yes x 2>"$tmp/e"; rc=$?
check "a flag given a value -> refused" bash -c "test $rc = 2 && grep -q -- '--list takes no value' '$tmp/e'"
"$BIN" info a b 2>"$tmp/e"; rc=$?
check "too many arguments -> refused" bash -c "test $rc = 2 && grep -q \"unexpected argument 'b'\" '$tmp/e'"
# help: generated from the table, with the defaults
"$BIN" pose --help >"$tmp/h"
check "pose --help shows defaults from the table" bash -c "grep -Eq -- '--k N +frames to keep \\(default 6\\)' '$tmp/h' && grep -q -- '--seed N' '$tmp/h' && grep -q '(default 12306)' '$tmp/h'"
"$BIN" interp --help >"$tmp/h"
check "interp --help: --cfg default 7.5" grep -Eq -- '--cfg S +guidance scale \(default 7\.5\)' "$tmp/h"
# --help wins wherever it stands, and shows the defaults untouched by the options before it
"$BIN" pose --k 3 --help >"$tmp/h"; rc=$?
check "--help after other options: exit 0, defaults unchanged" bash -c "test $rc = 0 && grep -q 'frames to keep (default 6)' '$tmp/h'"
# -- ends the options
"$BIN" info -- --list >"$tmp/o" 2>"$tmp/e"; rc=$?
check "-- makes the rest positional (a file named --list)" bash -c "test $rc != 2 && grep -q -- '--list' '$tmp/e'"
echo "$fail failed"
[ "$fail" = 0 ]
