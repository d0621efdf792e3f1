#!/usr/bin/env bash
# A long run of the forwarding chain in the bench's QEMU guest (TCG),
# every frame checked: safenic gen NIC1 -> fwd NIC2/NIC3 -> safenic recv
# NIC4 (bench/guest/scenarios/fwd-chain.sh), COUNT frames at RATE pps. recv
# checks each frame's sequence number and payload; the soak passes when
# every frame arrived once and intact (sent = forwarded = received = valid
# = COUNT, lost = duplicated = corrupted = 0) and the guest logged no
# IOMMU (DMAR) fault. The rate must stay below what the chain sustains
# under TCG (see the README's benchmarks), or loss is the bench's, not
# safenic's. Not part of ./test.sh: 10^7 frames take about 22 minutes.
#
#   sudo benchmarks/soak.sh [options] [OUT_DIR]     (default: build/bench)
#     --count N        frames (default 10000000)
#     --rate PPS       generator rate (default 8000). On the build machine,
#                      shared with other work, the chain forwarded about 23
#                      kpps flat out; 10^7 frames at 12 kpps lost 8276 in
#                      QEMU's queues while the guest was starved (receive
#                      rings full), none duplicated or corrupted
#     --nic MODEL      e1000e (default) or virtio. QEMU's igb model drops
#                      frames silently when a receiver falls a ring behind
#                      (see bench/guest/scenarios/fwd-chain.sh): no
#                      zero-loss soak on igb.
#     --safenic BIN    a static safenic (default: built in build/perf-static)
# Prints the figures and writes OUT_DIR/soak.txt (the same) and the
# console in OUT_DIR/logs/. Exit 0 when the soak passed. Needs root; one
# guest at a time on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
GB_NAME="soak"
. benchmarks/guest-lib.sh

count=10000000 rate=8000 nic=e1000e bin="" out=build/bench
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--nic) nic=$2; shift 2 ;;
	--safenic) bin=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) gb_die "unknown option '$1' (see --help)" ;;
	*) out=$1; shift ;;
	esac
done
case $count$rate in *[!0-9]*) gb_die "--count and --rate take whole numbers" ;; esac
[ "$rate" -gt 0 ] && [ "$count" -gt 0 ] || gb_die "--count and --rate must be above 0"
case $nic in e1000e | virtio) ;; *) gb_die "--nic must be e1000e or virtio (igb loses frames silently in QEMU)" ;; esac
mkdir -p "$out/logs"
gb_prepare "$bin" "$out"

# The generator needs count/rate seconds; fwd-chain allows twice that
# plus 60 s, and the guest stops its scenario 60 s before QEMU's limit.
run_s=$((count / rate))
timeout=$((run_s * 2 + 60 + 60 + 60))
log=$out/logs/soak-$nic.console.log
date=$(date -u +%Y-%m-%dT%H:%MZ)
gb_say "$count frames at $rate pps on $nic (about $run_s s of traffic; guest limit $timeout s)"
start=$(date +%s)
rc=0
gb_guest "$log" --scenario fwd-chain --nic "$nic" --timeout "$timeout" \
	--param "count=$count" --param "rate=$rate" || rc=$?
wall=$(($(date +%s) - start))

verdict=$(tr -d '\r' < "$log" | sed -n 's/^VERDICT fwd-chain //p' | tail -1)
faults=$(tr -d '\r' < "$log" | sed -n 's/^DMAR-FAULTS: //p' | tail -1)
summary() { tr -d '\r' < "$log" | grep "^\[$1\] SUMMARY" | tail -1 | sed 's/^\[[^]]*\] //'; }
{
	echo "safenic soak: gen -> fwd -> recv in the QEMU guest (TCG), IOMMU on, $nic, $date"
	echo "machine: $(gb_machine)"
	echo "frames: $count at $rate pps, 60-byte frames; recv checks every sequence number and payload"
	echo "result: ${verdict:-no verdict (run-guest exit $rc)}"
	echo "DMAR faults: ${faults:-unknown}"
	echo "guest wall time: $wall s"
	for who in gen fwd recv; do
		echo "$(summary "$who")"
	done
} | tee "$out/soak.txt"
[ "$rc" -eq 0 ] && [ "${verdict%% *}" = PASS ] && [ "$faults" = 0 ] || {
	gb_failures "$log" >&2
	exit 1
}
