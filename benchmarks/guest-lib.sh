# Shared by the guest benchmarks (vs-dpdk.sh, iommu-eval.sh); sourced from
# the repository's root. Not a command.
#
# The benchmarks boot the bench's QEMU guest (bench/run-guest.sh) with a
# perf-* scenario (bench/guest/scenarios/) and read the PERF-RUN lines it
# prints on the console.


gb_say() { echo "${GB_NAME:-bench}: $*"; }
gb_die() { echo "${GB_NAME:-bench}: ERROR: $*" >&2; exit 1; }

# gb_prepare SAFENIC_BINARY OUT_DIR: what a guest run needs. Installs the
# bench's and the benchmarks' dependencies, builds a static safenic in
# build/perf-static unless SAFENIC_BINARY names one, and the guest image
# with DPDK's testpmd in it. Sets INITRD.
gb_prepare() {
	gb_prepare_image "$1" "$2" dpdk
}

# gb_prepare_safenic SAFENIC_BINARY OUT_DIR: gb_prepare for a benchmark
# of safenic alone: no DPDK in the guest image. SAFENIC_BENCH_NO_INSTALL=1
# skips bench/install-deps.sh (on a machine set up already); the plots
# then need gnuplot installed (without it they are skipped).
gb_prepare_safenic() {
	gb_prepare_image "$1" "$2" safenic
}

# gb_prepare_image SAFENIC_BINARY OUT_DIR dpdk|safenic: the two above.
gb_prepare_image() {
	local bin=$1 out=$2 with=$3 extra=()
	[ "$(id -u)" -eq 0 ] || gb_die "must run as root (QEMU's guest bench and apt-get)"
	if [ "$with" = dpdk ] || [ "${SAFENIC_BENCH_NO_INSTALL:-0}" != 1 ]; then
		bench/install-deps.sh > "$out/install-deps.log" 2>&1 ||
			gb_die "bench/install-deps.sh failed; see $out/install-deps.log"
	fi
	if [ "$with" = dpdk ]; then
		benchmarks/install-bench-deps.sh
		extra=(bench/.cache/dpdk/guest)
	fi
	if [ -z "$bin" ]; then
		cmake -S . -B build/perf-static -DSAFENIC_STATIC=ON -DSAFENIC_TESTS=OFF > /dev/null
		cmake --build build/perf-static -j2 > "$out/build.log" 2>&1 ||
			gb_die "building the static safenic failed; see $out/build.log"
		bin=build/perf-static/src/cli/safenic
	fi
	INITRD=$out/initramfs-perf.cpio.gz
	bench/build-initramfs.sh "$bin" "$INITRD" "${extra[@]}" > "$out/initramfs.log" 2>&1 ||
		gb_die "building the guest image failed; see $out/initramfs.log"
	gb_say "safenic $(sha256sum "$bin" | cut -c1-12) ($bin), guest image $INITRD"
}

# gb_guest LOG RUN-GUEST-ARGS...: one guest; run-guest.sh waits for the
# bench lock, so that only one of our guests runs at a time (two cores: a
# second guest would starve the first). Returns run-guest.sh's status.
gb_guest() {
	local log=$1 start rc=0
	shift
	start=$(date +%s)
	bench/run-guest.sh --initrd "$INITRD" --log "$log" "$@" \
		> "$log.run-guest" 2>&1 || rc=$?
	gb_say "guest done in $(($(date +%s) - start)) s (exit $rc): $log"
	[ "$rc" -eq 0 ] || tail -3 "$log.run-guest" | sed "s/^/${GB_NAME:-bench}:   /" >&2
	return "$rc"
}

# gb_runs LOG: the PERF-RUN lines of a console log, without the prefix.
gb_runs() {
	tr -d '\r' < "$1" | sed -n 's/^PERF-RUN //p'
}

# gb_field LINE KEY: KEY's value in a "key=value ..." line.
gb_field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# gb_machine: one line describing the host, for the results.
gb_machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	echo "$(nproc) x $cpu, $(($(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1048576)) GiB," \
		"$(. /etc/os-release && echo "$PRETTY_NAME"), $(qemu-system-x86_64 --version | head -1 |
		sed 's/ (.*//'), TCG"
}

# gb_failures LOG: why runs of a guest failed: its PERF-FAILED lines and
# the error lines of the safenic commands (as the guest printed them).
gb_failures() {
	tr -d '\r' < "$1" | grep -E '^PERF-FAILED|^\[[^]]*\] safenic [a-z]+: |^VERDICT|^BENCH-SETUP-FAILED' |
		head -12 | sed "s/^/${GB_NAME:-bench}:   /"
}
