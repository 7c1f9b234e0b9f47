# Shared by the CLI tests (tests/cli_*.sh; sourced after `set -u`): a failure counter, check(), and a
# scratch folder $tmp removed at exit (PC_CLI_KEEP=DIR keeps a copy in DIR/<script name>: the refactor check
# diffs the outputs of two builds on the same inputs).
fail=0
check() {  # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then echo "  ok   $what"; else echo "  FAIL $what"; fail=$((fail + 1)); fi
}
tmp=$(mktemp -d)
pc_cli_exit() {
    if [ -n "${PC_CLI_KEEP:-}" ]; then
        local keep="$PC_CLI_KEEP/$(basename "$0" .sh)"
        rm -rf "$keep"; mkdir -p "$keep" && cp -a "$tmp/." "$keep/"
    fi
    rm -rf "$tmp"
}
trap pc_cli_exit EXIT
