#!/usr/bin/env bash
# Smoke runs of the guest benchmarks, for a test command: each boots its
# guest(s) for a few seconds of traffic and fails only when the machinery
# breaks (a guest, a program or a parser yields no number), never on a
# number. About 2 min (device-work adds about 35 s: its guest 29 s).
#
#   sudo benchmarks/guest-smoke.sh [--safenic BIN] [OUT_DIR]   (default: build/bench-smoke)
# Ends with "guest-smoke: N passed, M failed"; exit status 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
args=() out=build/bench-smoke
while [ $# -gt 0 ]; do
	case $1 in
	--safenic) args+=(--safenic "$2"); shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) out=$1; shift ;;
	esac
done
mkdir -p "$out"
passed=0 failed=0
for bench in vs-dpdk iommu-eval device-work; do
	if "benchmarks/$bench.sh" --smoke "${args[@]}" "$out/$bench" > "$out/$bench.log" 2>&1; then
		echo "guest-smoke: $bench: PASS"
		passed=$((passed + 1))
	else
		echo "guest-smoke: $bench: FAIL (log: $out/$bench.log)"
		grep -E 'FAIL|ERROR|safenic [a-z]+: ' "$out/$bench.log" | tail -8 | sed 's/^/guest-smoke:   /'
		failed=$((failed + 1))
	fi
done
echo "guest-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
