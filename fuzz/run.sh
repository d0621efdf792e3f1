#!/usr/bin/env bash
# Builds the libFuzzer harnesses (if needed) and runs each one, one after
# the other, on a copy of its seed corpus (the committed seeds never
# grow), for a bounded time and/or number of executions.
#
#   fuzz/run.sh BUILD_DIR SECONDS_EACH [RUNS_EACH]
#
# SECONDS_EACH 0 means no time limit (then give RUNS_EACH). Prints one line
# per harness (executions, rate, libFuzzer's last cov and ft, corpus size,
# crashes: libFuzzer stops at the first, so 0 or 1) and fails if any
# harness crashed, hung (10 s on one input), or broke an invariant; the
# input that did it is kept under BUILD_DIR/fuzz-artifacts/ and its log
# under BUILD_DIR/fuzz-logs/. Extra libFuzzer flags for every harness can
# be given in FUZZ_FLAGS; FUZZ_ONLY="fuzz_ring fuzz_pcap" runs only those.
# benchmarks/fuzz-long.sh uses this for long runs.
set -uo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: fuzz/run.sh BUILD_DIR SECONDS_EACH [RUNS_EACH]" >&2
	echo "  e.g. fuzz/run.sh build-fuzz 20" >&2
	exit 2
}
[ $# -ge 2 ] && [ $# -le 3 ] || usage
build=$1 seconds=$2 runs=${3:-0}
case "$seconds$runs" in
*[!0-9]*) echo "fuzz/run.sh: SECONDS_EACH and RUNS_EACH must be whole numbers" >&2; usage ;;
esac
if [ "$seconds" -eq 0 ] && [ "$runs" -eq 0 ]; then
	echo "fuzz/run.sh: give a time (SECONDS_EACH) or a number of executions (RUNS_EACH)" >&2
	usage
fi

runs_flag=-1 # libFuzzer: no limit
[ "$runs" -gt 0 ] && runs_flag=$runs

# Every harness, and the largest input it is given: the ring and virtqueue
# scripts check every buffer after each operation, so long scripts only
# slow the search down.
harnesses="fuzz_ring:512 fuzz_virtq:512 fuzz_vctrl:2048 fuzz_vpacked:512 fuzz_vpctrl:2048 fuzz_xskring:512 fuzz_responder:2048 fuzz_pcap:256 fuzz_args:512"

command -v clang >/dev/null || {
	echo "fuzz/run.sh: clang is missing: install it (bench/install-deps.sh installs clang and libFuzzer)" >&2
	exit 1
}
if ! cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DSAFENIC_FUZZ=ON -DSAFENIC_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1; then
	echo "fuzz/run.sh: cmake could not configure $build (see $build.configure.log)" >&2
	exit 1
fi
rm -f "$build.configure.log"
if ! cmake --build "$build" --target fuzzers -j2 >"$build/fuzz-build.log" 2>&1; then
	tail -20 "$build/fuzz-build.log" >&2
	echo "fuzz/run.sh: the harnesses did not build (see $build/fuzz-build.log)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
failed=()
printf '%-16s %12s %8s %10s %6s %6s %7s %8s\n' harness executions seconds exec/s cov ft corpus crashes
for entry in $harnesses; do
	name=${entry%%:*} max_len=${entry#*:}
	if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $name "* ]]; then
		continue
	fi
	corpus=$work/$name
	log=$build/fuzz-logs/$name.log
	mkdir -p "$corpus"
	cp fuzz/seeds/"${name#fuzz_}"/* "$corpus"/
	start=$(date +%s.%N)
	# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
	"$build/fuzz/$name" -max_total_time="$seconds" -runs="$runs_flag" -max_len="$max_len" \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" \
		${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1
	status=$?
	end=$(date +%s.%N)
	execs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$log")
	# cov and ft of the last status line libFuzzer printed.
	read -r cov ft corpus_size < <(awk '/^#[0-9]+/ && / cov: / {
		for (i = 1; i <= NF; i++) {
			if ($i == "cov:") c = $(i + 1)
			if ($i == "ft:") f = $(i + 1)
			if ($i == "corp:") { split($(i + 1), a, "/"); k = a[1] }
		}
	} END { print c + 0, f + 0, k + 0 }' "$log")
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", b - a}')
	rate=$(awk -v n="${execs:-0}" -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", n / (b - a)}')
	crashes=0
	[ "$status" -eq 0 ] || { crashes=1; failed+=("$name"); }
	printf '%-16s %12s %8s %10s %6s %6s %7s %8s\n' "$name" "${execs:-?}" "$secs" "$rate" \
		"$cov" "$ft" "$corpus_size" "$crashes"
	if [ "$status" -ne 0 ]; then
		echo "    exit status $status; log $log"
		grep -E 'invariant broken|ERROR: |SUMMARY: |Test unit written' "$log" | head -8 | sed 's/^/    /'
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]} (reproduce: BUILD_DIR/fuzz/NAME ARTIFACT)"
	exit 1
fi
echo "fuzz: every harness ran without a crash"
