#!/usr/bin/env bash
# Cost per packet of each driver's datapath on the host, against an
# in-memory device: instructions (callgrind: this machine kind has no
# usable hardware counters, and callgrind's counts are repeatable) and
# cycles (TSC, the device's turns subtracted) for batch sizes 1..256.
#
#   benchmarks/host-cost.sh [BUILD_DIR]     (default: build)
# Writes BUILD_DIR/bench/host-cost.csv (and .png, with gnuplot) and prints
# a table.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/benchmarks/safenic-host-cost
[ -x "$bin" ] || { echo "host-cost.sh: no $bin; build first (cmake --build $build)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "host-cost.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
out=$build/bench
mkdir -p "$out"
csv=$out/host-cost.csv
echo "driver,mode,batch,instructions_per_packet,cycles_per_packet" > "$csv"

# Instructions inside the measured loop for N packets; the difference of
# two runs cancels start-up and the loop's first fill. --fair-sched: the
# device thread that finishes the NICs' resets spins, and valgrind's
# default lock let it starve the driver's thread for minutes at a time.
instructions() { # driver mode batch packets
	local file
	file=$(mktemp)
	valgrind --tool=callgrind --fair-sched=yes --toggle-collect="measured_$2" --callgrind-out-file="$file" \
		"$bin" "$1" "$2" "$3" "$4" --inline-device 2>/dev/null | awk '{print $4}'
	awk '/^totals:/ {print $2}' "$file"
	rm -f "$file"
}

printf '%-7s %-4s %6s %12s %12s\n' driver mode batch instr/pkt cycles/pkt
for driver in virtio virtio-split igb e1000e ixgbe; do
	for mode in rx tx fwd; do
		for batch in 1 4 8 16 32 64 128 256; do
			read -r p1 i1 < <(instructions "$driver" "$mode" "$batch" 20000 | paste -sd' ')
			read -r p2 i2 < <(instructions "$driver" "$mode" "$batch" 60000 | paste -sd' ')
			ipp=$(awk -v a="$i1" -v b="$i2" -v p="$p1" -v q="$p2" 'BEGIN {printf "%.1f", (b - a) / (q - p)}')
			cpp=$("$bin" "$driver" "$mode" "$batch" 2000000 --inline-device | awk '{print $5}')
			printf '%-7s %-4s %6s %12s %12s\n' "$driver" "$mode" "$batch" "$ipp" "$cpp"
			echo "$driver,$mode,$batch,$ipp,$cpp" >> "$csv"
		done
	done
done
echo "raw numbers: $csv"

# Instructions per packet against batch size, one line per driver and mode.
if command -v gnuplot >/dev/null; then
	png=$out/host-cost.png
	plots=""
	for driver in virtio virtio-split igb e1000e ixgbe; do
		for mode in rx tx fwd; do
			grep "^$driver,$mode," "$csv" | cut -d, -f3,4 | tr , ' ' > "$out/hc-$driver-$mode.dat"
			plots+="${plots:+, }'$out/hc-$driver-$mode.dat' using 1:2 with linespoints title '$driver $mode'"
		done
	done
	gnuplot <<-PLOT
		set terminal pngcairo size 900,600
		set output '$png'
		set title 'safenic: instructions per packet on the host (callgrind), $(date +%Y-%m-%d)'
		set xlabel 'batch size'
		set ylabel 'instructions per packet'
		set logscale x 2
		set key outside right
		set grid
		plot $plots
	PLOT
	rm -f "$out"/hc-*.dat
	echo "plot: $png"
else
	echo "no gnuplot: no plot (apt-get install gnuplot-nox)"
fi
