#!/usr/bin/env bash
# How safenic fwd scales with queue pairs (one thread each), and what each
# --mode costs in CPU time per forwarded frame, in the bench's QEMU guest
# (TCG, two vCPUs):
#   queues  fwd --queues 1, 2, 4 (poll mode), the source sending 64 flows
#           as fast as it can: forwarded Mpps;
#   modes   fwd --mode poll, interrupt, adaptive with one queue pair at
#           three offered loads (1 kpps, 10 kpps, as fast as the source
#           can): fwd's CPU time (user + system, all its threads) per
#           forwarded frame, and the rate.
# Wiring (bench/guest/scenarios/perf-scale.sh): safenic gen NIC1 -> fwd
# NIC2/NIC3 -> safenic recv NIC4, source and sink on vCPU 0.
#
# What this machine can show: the guest's vCPUs are two host threads on a
# two-core host that also runs QEMU's device emulation, and every access
# to an emulated NIC's registers takes QEMU's one global lock. More
# threads therefore cannot add rate here the way they do on real NICs
# (each queue its own DMA engine and doorbell, each thread its own core):
# the queues sweep shows that the threads work side by side without
# losing frames and what they cost, not how a real machine scales. The
# modes sweep is meaningful at low and medium load (an idle or lightly
# loaded poller burns a whole vCPU; interrupt and adaptive modes do not),
# though absolute microseconds are TCG's, far above real hardware.
#
#   sudo benchmarks/scale.sh [options] [OUT_DIR]     (default: build/bench)
#     --smoke          queues 1,2 and adaptive at 1 kpps only, 2 s a run:
#                      checks the machinery (fails only when a run yields
#                      no number)
#     --reps N         1     --secs N   4 (seconds per run)
#     --nic MODEL      igb (the default: 4 queues with RSS, MSI-X)
#     --safenic BIN    a static safenic (default: built in build/perf-static)
# Writes OUT_DIR/scale.csv (every run), scale.png (with gnuplot), the
# console in OUT_DIR/logs/, and prints the tables. Needs root; one guest
# at a time on the machine. About 4 min with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
GB_NAME="scale"
. benchmarks/guest-lib.sh

reps=1 secs=4 nic=igb bin="" out=build/bench smoke=0
queue_list=1,2,4 loads=1000,10000,0 modes=poll,interrupt,adaptive
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 queue_list=1,2 loads=1000 modes=adaptive secs=2; shift ;;
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
gb_prepare_safenic "$bin" "$out"

csv=$out/scale.csv
date=$(date -u +%Y-%m-%dT%H:%MZ)
machine=$(gb_machine)
keys="kind nic queues mode load rep packets seconds pps cpu_seconds us_per_frame sleeps delivered"
echo "date,${keys// /,}" > "$csv"
nq=$(echo "$queue_list" | tr , '\n' | wc -l)
nl=$(echo "$loads" | tr , '\n' | wc -l)
nm=$(echo "$modes" | tr , '\n' | wc -l)
want=$((reps * (nq + nl * nm)))
timeout=$((2 * (want * (secs + 15) + 60) + 120))
failed=0 start=$(date +%s)
log=$out/logs/scale.console.log
gb_say "=== $nic: queues $queue_list; modes $modes at loads $loads; ${secs} s a run (timeout ${timeout} s)"
gb_guest "$log" --scenario perf-scale --nic "$nic" --timeout "$timeout" \
	--param "perf_nic=$nic" --param "queue_list=$queue_list" --param "loads=$loads" \
	--param "modes=$modes" --param "reps=$reps" --param "secs=$secs" || failed=1
got=0
while read -r line; do
	[ "$(gb_field "$line" status)" = ok ] || { failed=1; gb_say "FAILED run: $line"; continue; }
	got=$((got + 1))
	row=$date
	for key in $keys; do
		row=$row,$(gb_field "$line" "$key")
	done
	echo "$row" >> "$csv"
done < <(gb_runs "$log")
if [ "$got" -ne "$want" ]; then
	failed=1
	gb_say "$got of $want runs gave numbers; see $log"
	gb_failures "$log"
fi
elapsed=$(($(date +%s) - start))

# col NAME: the column number of NAME in the CSV.
col() { head -1 "$csv" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
echo
echo "safenic fwd: scaling and modes, QEMU guest (TCG, 2 vCPUs), $nic, 64-byte frames, $date"
echo "machine: $machine"
echo "runs: $reps x ${secs} s per point (median of the reps)"
echo
awk -F, -v k="$(col kind)" -v q="$(col queues)" -v p="$(col pps)" -v c="$(col cpu_seconds)" \
	-v n="$(col packets)" '
	NR > 1 && $k == "queues" { s[$q] = s[$q] " " $p; cs[$q] += $c; ns[$q] += $n; if (!($q in seen)) { seen[$q] = 1; o[++m] = $q } }
	function median(list,   a, k, i, j, t) {
		k = split(list, a, " ")
		for (i = 2; i <= k; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		if (!m) exit
		printf "%8s %12s %16s\n", "queues", "fwd Mpps", "CPU us/frame"
		for (i = 1; i <= m; i++)
			printf "%8s %12.4f %16.2f\n", o[i], median(s[o[i]]) / 1e6, ns[o[i]] ? cs[o[i]] * 1e6 / ns[o[i]] : 0
	}' "$csv"
echo
awk -F, -v k="$(col kind)" -v md="$(col mode)" -v l="$(col load)" -v p="$(col pps)" \
	-v u="$(col us_per_frame)" -v c="$(col cpu_seconds)" -v sec="$(col seconds)" '
	NR > 1 && $k == "modes" { key = $md " " $l; pps[key] = $p; us[key] = $u
		cpu[key] = $sec > 0 ? 100 * $c / $sec : 0
		if (!($md in ms)) { ms[$md] = 1; mo[++nm] = $md }
		if (!($l in ls)) { ls[$l] = 1; lo[++nl] = $l } }
	END {
		if (!nm) exit
		printf "%-10s %10s %12s %14s %12s\n", "mode", "load", "fwd pps", "CPU us/frame", "CPU %"
		for (i = 1; i <= nm; i++)
			for (j = 1; j <= nl; j++) {
				key = mo[i] " " lo[j]
				printf "%-10s %10s %12.0f %14s %12.1f\n", mo[i], lo[j] == 0 ? "max" : lo[j], pps[key], us[key], cpu[key]
			}
	}' "$csv"
echo "(CPU % = fwd's CPU time over the run's wall time, 100 = one vCPU)"
echo
gb_say "every run: $csv; $elapsed s in all, waits for other guests included"

if [ "$got" -gt 0 ] && command -v gnuplot > /dev/null; then
	png=$out/scale.png
	awk -F, -v k="$(col kind)" -v q="$(col queues)" -v p="$(col pps)" \
		'NR > 1 && $k == "queues" { print $q, $p / 1e6 }' "$csv" > "$out/sc-queues.dat"
	plots=""
	li=0
	for m in ${modes//,/ }; do
		awk -F, -v k="$(col kind)" -v md="$(col mode)" -v l="$(col load)" -v u="$(col us_per_frame)" \
			-v m="$m" -v loads="$loads" 'BEGIN { n = split(loads, a, ","); for (i = 1; i <= n; i++) idx[a[i]] = i }
			NR > 1 && $k == "modes" && $md == m { print idx[$l], $u, ($l == 0 ? "max" : $l / 1000 "k") }' \
			"$csv" > "$out/sc-$m.dat"
		[ -s "$out/sc-$m.dat" ] || continue
		plots+="${plots:+, }'$out/sc-$m.dat' using 1:2:xtic(3) with linespoints lw 2 title '$m'"
		li=$((li + 1))
	done
	gnuplot <<-PLOT
		set terminal pngcairo size 1100,480
		set output '$png'
		set multiplot layout 1,2 title "safenic fwd in a QEMU guest (TCG, 2 vCPUs, one global device lock), $nic, 64 B frames, $(date +%Y-%m-%d)"
		set title 'rate against queue pairs (a thread each), poll mode'
		set xlabel 'fwd --queues'
		set ylabel 'forwarded Mpps'
		set xtics 1
		set xrange [0.5:4.5]
		set yrange [0:*]
		set grid
		set key top left
		plot '$out/sc-queues.dat' using 1:2 with points pt 7 ps 1.5 title 'runs'
		set title 'CPU time per forwarded frame, one queue pair'
		set xlabel 'offered load, frames/s (max: as fast as the source can)'
		set ylabel 'fwd CPU microseconds per frame'
		set logscale y
		set yrange [*:*]
		set xrange [0.5:3.5]
		set key top right
		plot $plots
		unset multiplot
	PLOT
	rm -f "$out"/sc-*.dat
	gb_say "plot: $png"
fi

if [ "$failed" -ne 0 ]; then
	gb_say "FAILED: some runs gave no numbers (see above and $out/logs/)"
	exit 1
fi
[ "$smoke" -eq 0 ] || gb_say "smoke run passed"
