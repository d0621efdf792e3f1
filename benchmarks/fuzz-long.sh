#!/usr/bin/env bash
# Long fuzzing runs: every harness of fuzz/ in turn, for N executions
# each (default 10 million) or S seconds each, on a copy of its seeds.
# Prints, per harness, executions, seconds, executions per second, the
# coverage libFuzzer reached (cov: edges, ft: features), the corpus it
# grew and crashes; writes the table to benchmarks/results/fuzz.txt.
#
#   benchmarks/fuzz-long.sh [--runs N | --seconds S] [--build DIR] [--out FILE]
#
# One harness at a time: on a shared machine run it under `nice -n 19`.
# FUZZ_ONLY="fuzz_pcap fuzz_args" runs only those (see fuzz/run.sh).
# Like every benchmark it reports; unlike them it fails on a crash, since
# a crash is a bug (the input is kept under DIR/fuzz-artifacts/).
set -uo pipefail
cd "$(dirname "$0")/.."

runs=10000000 seconds=0 build=build-fuzz out=benchmarks/results/fuzz.txt
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?--runs needs a number}; seconds=0; shift 2 ;;
	--seconds) seconds=${2:?--seconds needs a number}; runs=0; shift 2 ;;
	--build) build=${2:?--build needs a directory}; shift 2 ;;
	--out) out=${2:?--out needs a file}; shift 2 ;;
	*) echo "usage: benchmarks/fuzz-long.sh [--runs N | --seconds S] [--build DIR] [--out FILE]" >&2
	   exit 2 ;;
	esac
done

table=$(mktemp)
trap 'rm -f "$table"' EXIT
started=$(date -u '+%Y-%m-%d %H:%M')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
fuzz/run.sh "$build" "$seconds" "$runs" | tee "$table"
status=${PIPESTATUS[0]}
mkdir -p "$(dirname "$out")"
{
	echo "benchmarks/fuzz-long.sh, $( [ "$runs" -gt 0 ] && echo "$runs executions" || echo "$seconds s") per harness"
	echo "started $started UTC, safenic $commit, $(clang --version | head -1)"
	echo "$(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	cat "$table"
} >"$out"
echo "fuzz-long: table written to $out"
exit "$status"
