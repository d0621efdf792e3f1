#!/usr/bin/env bash
# Runs every test of safenic, as CI does: installs what the tests need,
# builds with gcc, with clang and with ASan+UBSan, runs the unit tests of
# each build (the threaded ones under TSan too), the static analyzers
# (tools/static-analysis.sh) and each libFuzzer harness for 20 s (fuzz/run.sh), then
# boots the QEMU guest bench and runs its scenarios, and a few seconds of
# each guest benchmark (so that they cannot rot; these never fail on a
# number).
#
#   ./test.sh            everything
#   ./test.sh --host     unit tests, static analysis and fuzzing only (no guest)
set -euo pipefail
cd "$(dirname "$0")"

host_only=false
[ "${1:-}" = "--host" ] && host_only=true

passed=0
failed=0
failed_names=()

step() { printf '\n=== %s ===\n' "$*"; }

# Each step's output also goes to build/test-logs/NAME.log, so that the
# end of the run can repeat what a failed step said (CI shows the end).
record() { # name, then the command
	local name=$1
	shift
	mkdir -p build/test-logs
	if "$@" 2>&1 | tee "build/test-logs/$name.log"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
}

recap() {
	local name
	for name in "${failed_names[@]}"; do
		printf '\n=== what the failed step %s printed last (build/test-logs/%s.log) ===\n' \
			"$name" "$name"
		tail -n 60 "build/test-logs/$name.log"
	done
	if grep -h ' FLAKY ' build/test-logs/*.log 2>/dev/null | grep -q .; then
		printf '\n=== guest cases that failed once and passed when booted again ===\n'
		grep -h -E '^[a-z0-9-]+ +FLAKY ' build/test-logs/*.log
	fi
}

build_and_test() { # name, build dir, then cmake options
	local name=$1 dir=$2
	shift 2
	cmake -S . -B "$dir" "$@" >/dev/null &&
		cmake --build "$dir" -j2 >/dev/null &&
		ctest --test-dir "$dir" --output-on-failure
}

# DPDK's testpmd (Debian's packages, unpacked for the guest) and gnuplot
# come from the benchmarks' own install script.
bench_smoke() {
	benchmarks/install-bench-deps.sh &&
		benchmarks/guest-smoke.sh --safenic build-static/src/cli/safenic build/bench-smoke
}

# The tests labelled `threads` (pools shared by several threads) under
# ThreadSanitizer: only their executables are built (list them here).
tsan_test() {
	cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS="-fsanitize=thread -O1" \
		-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null &&
		cmake --build build-tsan -j2 --target mempool_threads_test >/dev/null &&
		TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan -L threads --output-on-failure
}

static_build() {
	cmake -S . -B build-static -DSAFENIC_STATIC=ON -DSAFENIC_TESTS=OFF >/dev/null &&
		cmake --build build-static -j2 >/dev/null
}

rm -rf build/test-logs
step "installing dependencies"
bench/install-deps.sh

# Huge pages on the host too, so the unit tests take the default layout
# (the guest bench covers the 4 KiB fallback).
if [ -w /proc/sys/vm/nr_hugepages ] && [ "$(cat /proc/sys/vm/nr_hugepages)" -lt 64 ]; then
	echo 64 > /proc/sys/vm/nr_hugepages || true
fi

step "unit tests, gcc"
record gcc build_and_test gcc build -DCMAKE_C_COMPILER=gcc
step "unit tests, clang"
record clang build_and_test clang build-clang -DCMAKE_C_COMPILER=clang
step "unit tests, gcc with AddressSanitizer and UndefinedBehaviorSanitizer"
record sanitizers build_and_test sanitizers build-asan -DCMAKE_C_COMPILER=gcc \
	-DSAFENIC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
step "threaded tests, clang with ThreadSanitizer"
record thread-sanitizer tsan_test
step "static analysis (gcc -fanalyzer, clang scan-build)"
record static-analysis tools/static-analysis.sh build-analysis
step "fuzzing (libFuzzer, 20 s per harness; fuzz/run.sh)"
record fuzz fuzz/run.sh build-fuzz 20

if ! $host_only; then
	step "static build for the guest"
	record static-build static_build
	step "guest scenarios (QEMU, emulated Intel IOMMU; virtio, igb and e1000e NICs)"
	record guest-scenarios bench/run-scenarios.sh build-static
	step "guest tests of the tools (dump, respond, bind, errors, no IOMMU)"
	record guest-tools bench/run-tools.sh build-static
	step "smoke runs of the guest benchmarks (safenic vs DPDK, IOMMU evaluation)"
	record bench-smoke bench_smoke
fi

recap
echo
if [ "$failed" -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "safenic: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
