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

echo "== installing what the demo needs (QEMU, guest kernel, busybox) =="
bench/install-deps.sh
echo "== building safenic (static, for the guest) =="
cmake -S . -B build-static -DSAFENIC_STATIC=ON -DSAFENIC_TESTS=OFF >/dev/null
cmake --build build-static -j2 >/dev/null
mkdir -p build/bench-logs
bench/build-initramfs.sh build-static/src/cli/safenic build/demo-initramfs.cpio.gz >/dev/null
echo "== booting the guest: 4 virtio NICs behind an emulated Intel IOMMU =="
log=build/bench-logs/demo.console.log
rc=0
bench/run-guest.sh --scenario demo --initrd build/demo-initramfs.cpio.gz \
	--param count="$count" --param rate="$rate" --timeout 600 --live --log "$log" || rc=$?

summary=$(grep -a '^DEMO-SUMMARY:' "$log" | tail -1 | tr -d '\r')
faults=$(grep -a '^DMAR-FAULTS:' "$log" | tail -1 | tr -d '\r' | awk '{print $2}')
echo
echo "== summary =="
echo "${summary#DEMO-SUMMARY: }"
echo "IOMMU (DMAR) faults logged by the guest: ${faults:-unknown}"
if [ "$rc" = 0 ] && [ "${faults:-1}" = 0 ]; then
	echo "every packet accounted for, none corrupted, no IOMMU fault"
else
	echo "demo FAILED (guest exit $rc); console log: $log" >&2
	exit 1
fi
