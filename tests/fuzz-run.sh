#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs a fuzzer for a bounded time on a copy of its seed corpus (the
# checked-in seeds are never written to), prints the number of executions,
# and exits non-zero on any crash, leak, timeout or broken invariant. Every
# seed is run first, as libFuzzer runs its corpus before it mutates.
#
#   tests/fuzz-run.sh FUZZER SECONDS [WORKDIR]
#
# The seeds of fuzz-wire are tests/corpus, those of fuzz-NAME
# tests/corpus-NAME; SEEDS=DIR names others. MAX_LEN (default 8192) bounds
# the inputs. WORKDIR (default: a new temporary directory, removed
# afterwards) receives the working corpus, the log (fuzz.log) and any
# crashing input.
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 FUZZER SECONDS [WORKDIR]" >&2
    exit 2
fi
fuzzer=$1
seconds=$2
case $seconds in
'' | *[!0-9]*)
    echo "$0: SECONDS must be a whole number" >&2
    exit 2
    ;;
esac
if [ ! -x "$fuzzer" ]; then
    echo "$0: $fuzzer is not an executable" >&2
    exit 2
fi
name=$(basename "$fuzzer")
case $name in
fuzz-wire) corpus=corpus ;;
fuzz-*) corpus=corpus-${name#fuzz-} ;;
*) corpus=corpus ;;
esac
seeds=${SEEDS:-$(cd "$(dirname "$0")" && pwd)/$corpus}
if [ ! -d "$seeds" ]; then
    echo "$0: no seed corpus at $seeds" >&2
    exit 2
fi
max_len=${MAX_LEN:-8192}
case $max_len in
'' | *[!0-9]*)
    echo "$0: MAX_LEN must be a whole number" >&2
    exit 2
    ;;
esac

if [ $# -eq 3 ]; then
    work=$3
    mkdir -p "$work"
    keep=1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    keep=0
fi
cleanup() {
    if [ "$keep" -eq 0 ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
log=$work/fuzz.log

# -error_exitcode and -timeout_exitcode make every finding fail the run;
# -print_final_stats gives the execution count.
status=0
"$fuzzer" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -error_exitcode=77 -timeout_exitcode=78 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" >"$log" 2>&1 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
echo "executions: ${execs:-unknown}"
echo "exec/s: ${rate:-unknown}"
echo "last status: ${last:-none}"

findings=$(find "$work/artifacts" -type f | wc -l)
if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
    echo "FAILED: exit status $status, $findings finding(s)" >&2
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" >&2 || true
    if [ "$keep" -eq 0 ]; then
        # Keep the evidence: the temporary directory stays.
        keep=1
        echo "log and artifacts kept in $work" >&2
    fi
    exit 1
fi
echo "no findings"
