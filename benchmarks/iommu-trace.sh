#!/usr/bin/env bash
# What the emulated IOMMU does per packet: counts QEMU's own VT-d trace
# events while safenic forwards on e1000e (bench/guest/scenarios/
# perf-iommu.sh, one batch size), with the forwarder's packet memory in
# hugetlb 2 MiB pages, in transparent huge pages (no hugetlb page, THP on)
# and in 4 KiB pages, one guest each:
#   translations   DMA accesses QEMU translated (IOTLB hits + misses)
#   superpage      of those, the share QEMU translated through a leaf
#                  entry with the page-size bit (bit 7 of the slpte both
#                  events print) set: a level-2 leaf, i.e. a 2 MiB IOMMU
#                  page; the rest went through 4 KiB (level-1) entries
#   misses         translations that walked the page tables
#                  (vtd_iotlb_page_update)
#   resets         whole-IOTLB flushes, e.g. when it outgrew its size
#                  (vtd_iotlb_reset)
# Source and sink (in hugetlb 2 MiB pages in every mode) count too: the
# trace covers the whole guest. Tracing slows QEMU, so the forwarding rate of
# these runs means nothing; iommu-eval.sh measures rates.
#
#   sudo benchmarks/iommu-trace.sh [options] [OUT_DIR]     (default: build/bench)
#     --batch N   32      --secs N   3      --nic MODEL   e1000e
#     --safenic BIN    a static safenic (default: built in build/perf-static)
# Writes OUT_DIR/iommu-trace.csv and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
GB_NAME="iommu-trace"
. benchmarks/guest-lib.sh

batch=32 secs=3 nic=e1000e bin="" out=build/bench
while [ $# -gt 0 ]; do
	case $1 in
	--batch) batch=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	--nic) nic=$2; shift 2 ;;
	--safenic) bin=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) gb_die "unknown option '$1' (see --help)" ;;
	*) out=$1; shift ;;
	esac
done
mkdir -p "$out/logs"
gb_prepare "$bin" "$out"

csv=$out/iommu-trace.csv
echo "date,nic,memmode,batch,page,pages,translations,superpage_translations,misses,superpage_misses,resets,forwarded,delivered" > "$csv"
date=$(date -u +%Y-%m-%dT%H:%MZ)
failed=0
for mode in iommu-2m iommu-thp iommu-4k; do
	log=$out/logs/iommu-trace-$mode.console.log
	fifo=$out/iommu-trace-$mode.fifo counts=$out/iommu-trace-$mode.counts
	rm -f "$fifo" && mkfifo "$fifo"
	# QEMU's log backend writes one line per event; counted as it comes,
	# since the lines would fill gigabytes.
	# A leaf slpte with bit 7 (PS) set maps a 2 MiB page: its second
	# hex digit from the right is 8 or more.
	awk 'function big(line, s) {
		if (!match(line, /slpte 0x[0-9a-f]+/)) return 0
		s = substr(line, RSTART, RLENGTH)
		return substr(s, length(s) - 1, 1) ~ /[89a-f]/ }
	     /vtd_iotlb_page_hit/ { hit++; if (big($0)) hit_big++ }
	     /vtd_iotlb_page_update/ { miss++; if (big($0)) miss_big++ }
	     /vtd_iotlb_reset/ { reset++ }
	     END { printf "%d %d %d %d %d\n", hit, miss, reset, hit_big, miss_big }' \
		< "$fifo" > "$counts" &
	counter=$!
	gb_say "=== $mode: $nic, batch $batch, ${secs} s, tracing vtd_iotlb_*"
	gb_guest "$log" --scenario perf-iommu --nic "$nic" --iommu on --timeout 400 \
		--param "perf_nic=$nic" --param "batches=$batch" --param reps=1 \
		--param "secs=$secs" --param "memmodes=$mode" \
		--qemu-arg -trace --qemu-arg vtd_iotlb_page_hit \
		--qemu-arg -trace --qemu-arg vtd_iotlb_page_update \
		--qemu-arg -trace --qemu-arg vtd_iotlb_reset \
		--qemu-arg -D --qemu-arg "$fifo" || failed=1
	# QEMU never opened the FIFO if it failed to start: unblock the reader.
	! kill -0 "$counter" 2> /dev/null || timeout 5 sh -c ": > '$fifo'" || true
	wait "$counter" || true
	rm -f "$fifo"
	read -r hits misses resets hits_big misses_big < "$counts"
	line=$(gb_runs "$log" | head -1)
	if [ -z "$line" ] || [ "$(gb_field "$line" status)" != ok ]; then
		failed=1
		gb_say "$mode: no forwarding run; see $log"
		gb_failures "$log"
		continue
	fi
	# The kind and the page size: hugetlb2MiB, THP2MiB, 4KiB.
	case $(gb_field "$line" memory) in
	hugetlb) page=hugetlb$(gb_field "$line" page) ;;
	thp | thp-partial) page=THP$(gb_field "$line" page) ;;
	*) page=$(gb_field "$line" page) ;;
	esac
	echo "$date,$nic,$mode,$batch,$page,$(gb_field "$line" pages),$((hits + misses)),$((hits_big + misses_big)),$misses,$misses_big,$resets,$(gb_field "$line" packets),$(gb_field "$line" delivered)" >> "$csv"
done

echo
echo "QEMU's VT-d IOTLB while safenic forwards ($nic, batch $batch, ${secs} s), $date"
echo "machine: $(gb_machine)"
echo
awk -F, 'NR > 1 {
	if (!hdr++) printf "%-9s %-11s %6s %13s %10s %8s %10s %7s %10s %12s\n", "memmode",
		"page", "pages", "translations", "superpage", "misses", "miss-rate",
		"resets", "forwarded", "trans/frame"
	printf "%-9s %-11s %6s %13d %9.1f%% %8d %9.3f%% %7d %10d %12.1f\n", $3, $5, $6, $7,
		$7 ? 100 * $8 / $7 : 0, $9, $7 ? 100 * $9 / $7 : 0, $11, $12,
		$12 ? $7 / $12 : 0 }' "$csv"
echo
gb_say "every figure: $csv"
exit "$failed"
