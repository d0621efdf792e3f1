#!/usr/bin/env bash
# safenic against DPDK 22.11's testpmd, in the bench's QEMU guest (TCG),
# on the same emulated NICs behind the emulated IOMMU (both through
# vfio-pci), taking turns. One guest per NIC model, four NICs of that model
# cabled in two pairs (chain4); the guest scenario is
# bench/guest/scenarios/perf-vs-dpdk.sh, which says how each mode is wired:
#   tx   safenic gen   vs testpmd txonly, on NIC1; sink on NIC2
#   rx   safenic recv --count-only vs testpmd rxonly, on NIC2; source on
#        NIC1
#   fwd  safenic fwd   vs testpmd io, NIC2 <-> NIC3; source on NIC1, sink
#        on NIC4
# Sink and source are testpmd (rxonly, txonly) on the other CPU, the same
# for both contenders.
# 60-byte frames (64 on the wire), bursts of 32, each contender pinned
# alone to one of the guest's two CPUs. Every rep runs both contenders
# back to back, in alternating order; the table shows medians.
#
#   sudo benchmarks/vs-dpdk.sh [options] [OUT_DIR]     (default: build/bench)
#     --smoke          e1000e, fwd, one rep of 2 s: checks the machinery
#                      (fails only when a run yields no number)
#     --nics LIST      virtio,e1000e,igb (the default)
#     --modes LIST     tx,rx,fwd (the default)
#     --reps N         3      --secs N    8 (seconds per run)
#     --safenic BIN    a static safenic (default: built in build/perf-static)
#     --baseline BIN   a third contender, "baseline": another static safenic
#                      (e.g. built from main before a change), run like
#                      safenic and alternating with it in the same boot;
#                      the table adds its median and safenic/baseline
#     --replot         only redraw OUT_DIR/vs-dpdk.png from its summary CSV
# Writes OUT_DIR/vs-dpdk.csv (every run), vs-dpdk-summary.csv (medians),
# vs-dpdk.png (with gnuplot), the guests' consoles in OUT_DIR/logs/, and
# prints the table. Needs root; one guest at a time on the machine (it
# waits for others and holds /tmp/safenic-guest.lock). About 6 min per NIC
# model with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
GB_NAME="vs-dpdk"
. benchmarks/guest-lib.sh

# plot: OUT_DIR/vs-dpdk.png from the medians (with gnuplot): Mpps per NIC
# and mode, and the ratio safenic/DPDK.
plot() {
	local png=$out/vs-dpdk.png dat=$out/vs-dpdk.dat
	[ "$(tail -n +2 "$summary" | wc -l)" -gt 0 ] || return 0
	command -v gnuplot > /dev/null || { gb_say "no gnuplot: no plot (apt-get install gnuplot-nox)"; return 0; }
	tail -n +2 "$summary" | awk -F, '{ printf "\"%s %s\" %s %s %s %s\n", $1, $2,
		$3 == "" ? 0 : $3, $4 == "" ? 0 : $4, $5 == "" ? "-" : $5 "x", $5 == "" ? 0 : $5 }' > "$dat"
	gnuplot <<-PLOT
		set terminal pngcairo size 1000,700
		set output '$png'
		set multiplot layout 2,1 title "safenic vs DPDK testpmd 22.11 in a QEMU guest (TCG), IOMMU on, 64 B frames, $(date +%Y-%m-%d)"
		set style data histogram
		set style histogram cluster gap 1
		set style fill solid 0.8 border -1
		set boxwidth 0.9
		set grid ytics
		set key top right
		set xtics rotate by -30
		set ylabel 'Mpps (median, log scale)'
		set logscale y
		plot '$dat' using 2:xtic(1) title 'safenic', '' using 3 title 'DPDK testpmd'
		unset logscale y
		set ylabel 'safenic / DPDK'
		set yrange [0:*]
		# Headroom above the tallest bar, so the key never covers a label.
		set offsets 0, 0, graph 0.35, 0
		plot '$dat' using 5:xtic(1) title 'ratio of the medians' lc rgb '#4060a0', \
			1 with lines lw 2 dt 2 lc rgb 'black' notitle, \
			'' using 0:5:4 with labels offset 0,1.2 notitle
		unset multiplot
	PLOT
	rm -f "$dat"
	gb_say "plot: $png"
}

nics=virtio,e1000e,igb modes=tx,rx,fwd reps=3 secs=8 bin="" base="" out=build/bench smoke=0 replot=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 nics=e1000e modes=fwd reps=1 secs=2; shift ;;
	--nics) nics=$2; shift 2 ;;
	--modes) modes=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	--safenic) bin=$2; shift 2 ;;
	--baseline) base=$2; shift 2 ;;
	--replot) replot=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) gb_die "unknown option '$1' (see --help)" ;;
	*) out=$1; shift ;;
	esac
done
csv=$out/vs-dpdk.csv
summary=$out/vs-dpdk-summary.csv
if [ "$replot" -eq 1 ]; then
	[ -f "$summary" ] || gb_die "no $summary to plot"
	plot
	exit 0
fi
mkdir -p "$out/logs"
gb_prepare "$bin" "$out"
contenders=safenic,dpdk
if [ -n "$base" ]; then
	[ -x "$base" ] || gb_die "--baseline $base: not an executable"
	# The image again, with the baseline beside DPDK's files.
	extra=$out/guest-extra
	rm -rf "$extra" && cp -a bench/.cache/dpdk/guest "$extra" && mkdir -p "$extra/usr/bin" &&
		cp "$base" "$extra/usr/bin/safenic-baseline" || gb_die "cannot stage $base"
	bench/build-initramfs.sh "${bin:-build/perf-static/src/cli/safenic}" "$INITRD" "$extra" \
		> "$out/initramfs.log" 2>&1 || gb_die "building the guest image failed; see $out/initramfs.log"
	rm -rf "$extra"
	gb_say "baseline $(sha256sum "$base" | cut -c1-12) ($base)"
	contenders=safenic,baseline,dpdk
fi
ncontenders=$(echo "$contenders" | tr , '\n' | wc -l)

date=$(date -u +%Y-%m-%dT%H:%MZ)
machine=$(gb_machine)
echo "date,nic,mode,contender,rep,packets,seconds,pps,drops,delivered" > "$csv"
failed=0 start=$(date +%s)
for nic in ${nics//,/ }; do
	log=$out/logs/vs-dpdk-$nic.console.log
	nmodes=$(echo "$modes" | tr , '\n' | wc -l)
	# Guest time: about secs + 15 s a run, plus the sources; twice that.
	timeout=$((2 * (nmodes * reps * ncontenders * (secs + 15) + 60) + 120))
	gb_say "=== $nic: modes $modes, $reps reps of ${secs} s (timeout ${timeout} s)"
	gb_guest "$log" --scenario perf-vs-dpdk --nic "$nic" --timeout "$timeout" \
		--param "perf_nic=$nic" --param "modes=$modes" --param "reps=$reps" \
		--param "secs=$secs" --param "contenders=$contenders" || failed=1
	want=$((nmodes * reps * ncontenders))
	got=0
	while read -r line; do
		status=$(gb_field "$line" status)
		[ "$status" = ok ] || { failed=1; gb_say "FAILED run: $line"; continue; }
		got=$((got + 1))
		row=$date
		for key in nic mode contender rep packets seconds pps drops delivered; do
			row=$row,$(gb_field "$line" "$key")
		done
		echo "$row" >> "$csv"
	done < <(gb_runs "$log")
	if [ "$got" -ne "$want" ]; then
		failed=1
		gb_say "$nic: $got of $want runs gave numbers; see $log"
		gb_failures "$log"
	fi
done
elapsed=$(($(date +%s) - start))

# Medians per NIC, mode and contender; the ratio of the medians.
awk -F, 'NR > 1 { key = $2 "," $3; v[key "," $4] = v[key "," $4] " " $8
		if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
	function median(list,   a, k, i, j, t) {
		k = split(list, a, " ")
		for (i = 2; i <= k; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		if (k == 0) return ""
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	function mpps_list(list,   a, k, i, s) {
		k = split(list, a, " "); s = ""
		for (i = 1; i <= k; i++) s = s (i > 1 ? " " : "") sprintf("%.3f", a[i] / 1e6)
		return s
	}
	BEGIN { print "nic,mode,safenic_mpps,dpdk_mpps,ratio,safenic_runs,dpdk_runs,baseline_mpps,vs_baseline,baseline_runs" }
	END {
		for (i = 1; i <= n; i++) {
			s = median(v[order[i] ",safenic"]); d = median(v[order[i] ",dpdk"])
			b = median(v[order[i] ",baseline"])
			r = (s != "" && d != "" && d > 0) ? sprintf("%.2f", s / d) : ""
			rb = (s != "" && b != "" && b > 0) ? sprintf("%.3f", s / b) : ""
			printf "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", order[i], s == "" ? "" : sprintf("%.3f", s / 1e6),
				d == "" ? "" : sprintf("%.3f", d / 1e6), r,
				mpps_list(v[order[i] ",safenic"]), mpps_list(v[order[i] ",dpdk"]),
				b == "" ? "" : sprintf("%.3f", b / 1e6), rb, mpps_list(v[order[i] ",baseline"])
		}
	}' "$csv" > "$summary"

echo
echo "safenic vs DPDK testpmd 22.11, QEMU guest (TCG), IOMMU on, 64-byte frames, $date"
echo "machine: $machine"
echo "runs: $reps x ${secs} s per contender, order alternating (rotating with a baseline); Mpps = median (the runs in brackets)"
echo
printf '%-7s %-4s %13s %13s %9s   %-22s %s\n' NIC mode "safenic Mpps" "DPDK Mpps" ratio "safenic runs" "DPDK runs"
tail -n +2 "$summary" | while IFS=, read -r nic mode s d r sr dr b rb br; do
	printf '%-7s %-4s %13s %13s %9s   %-22s %s\n' "$nic" "$mode" "${s:--}" "${d:--}" \
		"${r:+${r}x}" "[$sr]" "[$dr]"
done
if [ -n "$base" ]; then
	echo
	printf '%-7s %-4s %13s %14s %12s   %-22s %s\n' NIC mode "safenic Mpps" "baseline Mpps" \
		"vs baseline" "safenic runs" "baseline runs"
	tail -n +2 "$summary" | while IFS=, read -r nic mode s d r sr dr b rb br; do
		printf '%-7s %-4s %13s %14s %12s   %-22s %s\n' "$nic" "$mode" "${s:--}" "${b:--}" \
			"${rb:+${rb}x}" "[$sr]" "[$br]"
	done
fi
echo
gb_say "every run: $csv; medians: $summary; $elapsed s in all, waits for other guests included"

plot

if [ "$failed" -ne 0 ]; then
	gb_say "FAILED: some runs gave no numbers (see above and $out/logs/)"
	exit 1
fi
[ "$smoke" -eq 0 ] || gb_say "smoke run passed"
