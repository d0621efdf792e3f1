#!/usr/bin/env bash
# The safenic demo: install what is needed, build, boot a QEMU guest with an
# emulated Intel IOMMU and four virtio NICs, and forward packets between
# them with safenic, showing the rates as they come and a summary.
# Needs root (it installs Debian packages). Takes a few minutes the first
# time (downloads), about a minute after that.
#
#   ./demo.sh [--count N] [--rate PPS]
set -euo pipefail
cd "$(dirname "$0")"

count=200000
rate=20000
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: needs root, to install QEMU and the guest kernel: sudo ./demo.sh" >&2
	exit 1
fi

mkdir -p build/bench-logs
log=build/bench-logs/demo.console.log
steps=build/bench-logs/demo.steps.log
: > "$steps"
# quietly STEP COMMAND...: the command's output goes to the steps log,
# shown only when it fails.
quietly() {
	local what=$1
	shift
	echo "== $what"
	if ! "$@" >> "$steps" 2>&1; then
		tail -n 20 "$steps" >&2
		echo "demo.sh: $what failed; the full output is in $steps" >&2
		exit 1
	fi
}
quietly "installing what the demo needs (QEMU, guest kernel, busybox)" bench/install-deps.sh
quietly "building safenic (static, for the guest)" \
	sh -c 'cmake -S . -B build-static -DSAFENIC_STATIC=ON -DSAFENIC_TESTS=OFF &&
		cmake --build build-static -j2 &&
		bench/build-initramfs.sh build-static/src/cli/safenic build/demo-initramfs.cpio.gz'
echo "== booting a guest with 4 virtio NICs behind an emulated Intel IOMMU"
echo "   (its whole console goes to $log)"
echo
rc=0
rm -f "$log"
bench/run-guest.sh --scenario demo --initrd build/demo-initramfs.cpio.gz \
	--param count="$count" --param rate="$rate" --timeout 600 --log "$log" >> "$steps" 2>&1 &
guest=$!
# Only what safenic's three commands print (the scenario tags each line
# with its program), not the guest kernel's boot log; machine-readable
# SUMMARY lines stay in the log.
sleep 1
tail -n +1 -F --pid="$guest" "$log" 2>/dev/null | tr -d '\r' |
	grep -a --line-buffered -E '^(demo: |  safenic |\[(gen|fwd|recv)\] )' |
	grep -a --line-buffered -v -E '^\[(gen|fwd|recv)\] (SUMMARY |\+ )' || true
wait "$guest" || rc=$?

summary=$(grep -a '^DEMO-SUMMARY:' "$log" | tail -1 | tr -d '\r')
faults=$(grep -a '^DMAR-FAULTS:' "$log" | tail -1 | tr -d '\r' | awk '{print $2}')
echo
echo "== summary =="
echo "${summary#DEMO-SUMMARY: }"
echo "IOMMU (DMAR) faults logged by the guest: ${faults:-unknown}"
if [ "$rc" = 0 ] && [ "${faults:-1}" = 0 ]; then
	echo "every packet accounted for, none corrupted, no IOMMU fault"
else
	echo "demo FAILED (guest exit $rc); console log: $log, steps: $steps" >&2
	exit 1
fi
