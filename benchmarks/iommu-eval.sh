#!/usr/bin/env bash
# What the IOMMU costs safenic: the forwarding rate over a sweep of batch
# sizes for three memory modes, in the bench's QEMU guest (TCG), on e1000e
# NICs (the model that safenic drives both through VFIO and in unsafe
# mode):
#   iommu-2m  behind the emulated IOMMU, packet memory in 2 MiB pages
#   iommu-4k  behind the IOMMU, no huge page free, --memory 4k: 4 KiB pages
#   unsafe    a guest booted without an IOMMU, --unsafe (physical addresses)
# The first two take turns in one guest, the third needs a second guest:
# each rep boots one guest of each kind (alternating which goes first)
# and sweeps the batch sizes once in each.
# Wiring (bench/guest/scenarios/perf-iommu.sh): safenic gen NIC1 -> fwd
# NIC2/NIC3 -> safenic recv NIC4; only the forwarder's batch and memory
# change. Each mode's line in the table and plot says how many IOMMU (or
# physical) pages the forwarder's DMA memory spans, as safenic prints it.
#
#   sudo benchmarks/iommu-eval.sh [options] [OUT_DIR]     (default: build/bench)
#     --smoke          batch 32 only, one rep of 2 s: checks the machinery
#                      (fails only when a run yields no number)
#     --batches LIST   1,4,8,16,32,64,128,256 (the default)
#     --reps N         3 (pairs of guests)   --secs N   4 (seconds per run)
#     --nic MODEL      e1000e (the default) or igb
#     --safenic BIN    a static safenic (default: built in build/perf-static)
# Writes OUT_DIR/iommu-eval.csv (every run), iommu-eval-summary.csv
# (medians), iommu-eval.png (with gnuplot), the consoles in OUT_DIR/logs/,
# and prints the table. Needs root; one guest at a time on the machine.
# About 10 min with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
GB_NAME="iommu-eval"
. benchmarks/guest-lib.sh

batches=1,4,8,16,32,64,128,256 reps=3 secs=4 nic=e1000e bin="" out=build/bench smoke=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 batches=32 reps=1 secs=2; shift ;;
	--batches) batches=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
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

csv=$out/iommu-eval.csv
summary=$out/iommu-eval-summary.csv
date=$(date -u +%Y-%m-%dT%H:%MZ)
machine=$(gb_machine)
echo "date,nic,memmode,batch,rep,page,pages,packets,seconds,pps,drops,delivered" > "$csv"
nbatches=$(echo "$batches" | tr , '\n' | wc -l)
failed=0 start=$(date +%s)
# One pair of guests per rep, in alternating order: numbers differ more
# between two boots than between two runs in one guest, so the medians
# take that spread from both sides alike.
for rep in $(seq 1 "$reps"); do
	order="on off"
	[ $((rep % 2)) -eq 1 ] || order="off on"
	for iommu in $order; do
		log=$out/logs/iommu-eval-iommu-$iommu-rep$rep.console.log
		nmodes=$([ "$iommu" = on ] && echo 2 || echo 1)
		want=$((nmodes * nbatches))
		timeout=$((2 * (want * (secs + 10) + 60) + 120))
		gb_say "=== rep $rep, IOMMU $iommu: $nic, batches $batches, ${secs} s a run (timeout ${timeout} s)"
		gb_guest "$log" --scenario perf-iommu --nic "$nic" --iommu "$iommu" --timeout "$timeout" \
			--param "perf_nic=$nic" --param "batches=$batches" --param reps=1 \
			--param "secs=$secs" || failed=1
		got=0
		while read -r line; do
			[ "$(gb_field "$line" status)" = ok ] || { failed=1; gb_say "FAILED run: $line"; continue; }
			got=$((got + 1))
			row=$date
			for key in nic memmode batch rep page pages packets seconds pps drops delivered; do
				if [ "$key" = rep ]; then row=$row,$rep; else row=$row,$(gb_field "$line" "$key"); fi
			done
			echo "$row" >> "$csv"
		done < <(gb_runs "$log")
		if [ "$got" -ne "$want" ]; then
			failed=1
			gb_say "rep $rep, IOMMU $iommu: $got of $want runs gave numbers; see $log"
			gb_failures "$log"
		fi
	done
done
elapsed=$(($(date +%s) - start))

# Medians per mode and batch: batch,mode,mpps,pages,page,runs
awk -F, 'NR > 1 { key = $4 "," $3; v[key] = v[key] " " $10; pages[key] = $7; page[key] = $6
		if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
	function median(list,   a, k, i, j, t) {
		k = split(list, a, " ")
		for (i = 2; i <= k; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	BEGIN { print "batch,memmode,mpps,pages,page,runs" }
	END {
		for (i = 1; i <= n; i++) {
			k = split(v[order[i]], a, " "); s = ""
			for (j = 1; j <= k; j++) s = s (j > 1 ? " " : "") sprintf("%.3f", a[j] / 1e6)
			printf "%s,%.4f,%s,%s,%s\n", order[i], median(v[order[i]]) / 1e6, pages[order[i]],
				page[order[i]], s
		}
	}' "$csv" | sort -t, -k1,1n -k2,2 > "$summary.tmp"
{ echo "batch,memmode,mpps,pages,page,runs"; grep -v '^batch' "$summary.tmp"; } > "$summary"
rm -f "$summary.tmp"

# mpps_of BATCH MODE
mpps_of() { awk -F, -v b="$1" -v m="$2" '$1 == b && $2 == m { print $3 }' "$summary"; }
pages_of() {
	awk -F, -v m="$1" '$2 == m { print $4 " " ($1 == "" ? "" : $5); exit }' "$summary"
}

echo
echo "safenic fwd: IOMMU cost, QEMU guest (TCG), $nic, 64-byte frames, $date"
echo "machine: $machine"
echo "runs: $reps x ${secs} s per point, one pair of guests per rep; Mpps = median"
for mode in iommu-2m iommu-4k unsafe; do
	read -r n sz <<< "$(pages_of "$mode")"
	unit=$([ "$mode" = unsafe ] && echo physical || echo IOMMU)
	printf '  %-9s DMA memory spans %s %s pages of %s\n' "$mode" "${n:-?}" "$unit" "${sz:-?}"
done
echo
printf '%6s %10s %10s %10s %12s %12s\n' batch iommu-2m iommu-4k unsafe "2m/unsafe" "4k/unsafe"
for b in ${batches//,/ }; do
	m2=$(mpps_of "$b" iommu-2m) m4=$(mpps_of "$b" iommu-4k) mu=$(mpps_of "$b" unsafe)
	r2=$(awk -v a="$m2" -v b="$mu" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.3f", a / b }')
	r4=$(awk -v a="$m4" -v b="$mu" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.3f", a / b }')
	printf '%6s %10s %10s %10s %12s %12s\n' "$b" "${m2:--}" "${m4:--}" "${mu:--}" "${r2:--}" "${r4:--}"
done
echo
gb_say "every run: $csv; medians: $summary; $elapsed s in all, waits for other guests included"

if [ "$(tail -n +2 "$summary" | wc -l)" -gt 0 ] && command -v gnuplot > /dev/null; then
	png=$out/iommu-eval.png
	plots=""
	for mode in iommu-2m iommu-4k unsafe; do
		dat=$out/ie-$mode.dat
		awk -F, -v m="$mode" '$2 == m { print $1, $3 }' "$summary" > "$dat"
		[ -s "$dat" ] || continue
		read -r n sz <<< "$(pages_of "$mode")"
		unit=$([ "$mode" = unsafe ] && echo physical || echo IOMMU)
		plots+="${plots:+, }'$dat' using 1:2 with linespoints lw 2 title '$mode ($n $unit pages of $sz)'"
	done
	gnuplot <<-PLOT
		set terminal pngcairo size 900,550
		set output '$png'
		set title "safenic fwd in a QEMU guest (TCG), $nic, 64 B frames: IOMMU cost, $(date +%Y-%m-%d)"
		set xlabel 'batch size (fwd --batch)'
		set ylabel 'forwarded Mpps (median)'
		set logscale x 2
		set yrange [0:*]
		set key bottom right
		set grid
		plot $plots
	PLOT
	rm -f "$out"/ie-*.dat
	gb_say "plot: $png"
fi

if [ "$failed" -ne 0 ]; then
	gb_say "FAILED: some runs gave no numbers (see above and $out/logs/)"
	exit 1
fi
[ "$smoke" -eq 0 ] || gb_say "smoke run passed"
