#!/usr/bin/env bash
# Static analysis of everything the build compiles: the library, the
# safenic tool, their unit tests and the host benchmark.
#
#   tools/static-analysis.sh [BUILD_ROOT]     (default: build-analysis)
#
# (a) gcc -fanalyzer: an ordinary build with -fanalyzer added; the
#     project's -Werror turns any finding into a failed build.
# (b) clang's analyzer through scan-build --status-bugs, which fails on
#     any report and leaves HTML reports in BUILD_ROOT/scan-reports.
# Each runs in its own build directory. One verdict line per analyzer;
# the exit status is 0 only when neither found anything. A finding is
# fixed, or the code made clear to the analyzer, with a comment saying
# why (README, Testing).
set -uo pipefail
cd "$(dirname "$0")/.."

root=${1:-build-analysis}
mkdir -p "$root"

# The unit tests are analysed too, when cmocka is there to build them.
tests=ON
if ! pkg-config --exists cmocka; then
	tests=OFF
	echo "static-analysis: cmocka not found: analysing without the unit tests"
fi

# The lines a finding prints, without the path notes below each.
findings() { grep -E '^[^ ].*: (warning|error): ' "$1" | sort -u; }

gcc_analyzer() {
	local dir=$root/gcc log=$root/gcc.log n
	if ! cmake -S . -B "$dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_C_FLAGS=-fanalyzer \
		-DSAFENIC_TESTS=$tests >"$log" 2>&1; then
		echo "gcc -fanalyzer: FAILED: cmake could not configure (see $log)"
		return 1
	fi
	# Incremental is sound here: a file with a finding fails to compile,
	# so it is analysed again on the next run. make -k: every file's
	# findings at once, not the first file's only.
	if cmake --build "$dir" -j2 -- -k >>"$log" 2>&1; then
		echo "gcc -fanalyzer: PASS, no findings"
		return 0
	fi
	findings "$log"
	n=$(grep -cE '^[^ ].*: (warning|error): .*\[-W(error=)?analyzer-' "$log")
	if [ "$n" -gt 0 ]; then
		echo "gcc -fanalyzer: FAILED, $n finding(s) (paths in $log)"
	else
		echo "gcc -fanalyzer: FAILED: the build failed (see $log)"
	fi
	return 1
}

clang_analyzer() {
	local dir=$root/clang log=$root/clang.log reports=$root/scan-reports
	# From scratch: scan-build analyses only what it compiles, so files
	# kept from an earlier build would go unexamined.
	rm -rf "$dir"
	if ! scan-build -o "$reports" --use-cc=clang cmake -S . -B "$dir" \
		-DSAFENIC_TESTS=$tests >"$root/clang-configure.log" 2>&1; then
		echo "scan-build: FAILED: cmake could not configure (see $root/clang-configure.log)"
		return 1
	fi
	if scan-build -o "$reports" --use-cc=clang --status-bugs \
		cmake --build "$dir" -j2 >"$log" 2>&1; then
		echo "scan-build: PASS, no findings"
		return 0
	fi
	findings "$log"
	grep '^scan-build: ' "$log" | grep -v 'Using .* for static analysis'
	if grep -qE '^scan-build: [0-9]+ bugs? found' "$log"; then
		echo "scan-build: FAILED, $(grep -oE '^scan-build: [0-9]+' "$log" | tail -1 |
			cut -d' ' -f2) finding(s) (reports in $reports)"
	else
		echo "scan-build: FAILED: the build failed (see $log)"
	fi
	return 1
}

status=0
gcc_analyzer || status=1
clang_analyzer || status=1
exit $status
