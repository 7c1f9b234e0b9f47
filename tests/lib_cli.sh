# Shared by the CLI tests (tests/cli_*.sh; sourced after `set -u`): a failure counter, check(), and a
# scratch folder $tmp removed at exit.
fail=0
check() {  # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then echo "  ok   $what"; else echo "  FAIL $what"; fail=$((fail + 1)); fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
