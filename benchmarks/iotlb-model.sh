#!/usr/bin/env bash
# IOTLB misses per forwarded frame, by simulation. The emulated IOMMU's
# own IOTLB never thrashes (QEMU keeps up to 1024 entries and walks the
# tables on a miss), so its counts cannot show what 4 KiB pages cost a
# hardware IOTLB. Instead: one guest per memory layout runs safenic fwd on
# e1000e (bench/guest/scenarios/perf-iotlb.sh) at a fixed rate for each
# ring:pool variant, while QEMU traces every translation its VT-d model
# makes (vtd_iotlb_page_hit and vtd_iotlb_page_update: requester id,
# IOVA, domain; one per DMA access the emulated NICs make: descriptor
# reads and write-backs, frame reads and writes). The translations of the
# two forwarding NICs, run by run, are then replayed through the IOTLB
# model of benchmarks/iotlb.c (safenic-iotlb-sim): set-associative, LRU,
# one IOTLB shared by both NICs with entries tagged by domain, each entry
# a page of the run's layout (4 KiB or 2 MiB, from fwd's "DMA memory"
# line), no prefetch, no page-walk cache.
#
# Layouts: iommu-2m (2 MiB hugetlb pages), iommu-thp (no hugetlb page
# free for fwd, fwd --memory thp: transparent huge pages, mapped as 2 MiB
# IOMMU pages), iommu-4k (fwd --memory 4k: 4 KiB pages).
# The pool hands out its most recently freed buffer first (LIFO: the
# free stack and per-thread caches of src/lib/mempool.c); safenic has no
# option for another reuse order, so none is varied.
#
#   sudo benchmarks/iotlb-model.sh [options] [OUT_DIR]     (default: build/bench)
#     --layouts LIST   iommu-2m,iommu-thp,iommu-4k (the default)
#     --variants LIST  RING:POOL,... (default 512:8192,128:8192,2048:8192,
#                      512:2048,512:32768)
#     --secs N         4 (seconds the source sends per run)
#     --rate PPS       5000 (the source's frames per second)
#     --entries LIST   32,64,128,256,512,1024 (IOTLB sizes)
#     --ways LIST      4,8,0 (ways per set; 0 = fully associative)
#     --smoke          iommu-4k, one variant (512:2048), 2 s: checks the
#                      machinery end to end
#     --safenic BIN    a static safenic (default: built in build/perf-static)
#     --report         boot nothing: replay the translations a run left in
#                      OUT_DIR (iotlb-LAYOUT-pN.seq) again
# Writes OUT_DIR/iotlb-model.csv (one row per run and IOTLB geometry),
# iotlb-model.png (gnuplot), the translations per run
# (OUT_DIR/iotlb-LAYOUT-pN.seq: requester, domain, IOVA), the consoles in
# OUT_DIR/logs/, and prints the table. QEMU's raw trace (hundreds of MB)
# is deleted once extracted. Needs root; one guest at a time. About
# 4 min per layout with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
GB_NAME="iotlb-model"
. benchmarks/guest-lib.sh

layouts=iommu-2m,iommu-thp,iommu-4k variants=512:8192,128:8192,2048:8192,512:2048,512:32768
secs=4 rate=5000 entries=32,64,128,256,512,1024 ways=4,8,0 bin="" out=build/bench
smoke=0 report_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--layouts) layouts=$2; shift 2 ;;
	--variants) variants=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--entries) entries=$2; shift 2 ;;
	--ways) ways=$2; shift 2 ;;
	--smoke) smoke=1 layouts=iommu-4k variants=512:2048 secs=2; shift ;;
	--safenic) bin=$2; shift 2 ;;
	--report) report_only=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) gb_die "unknown option '$1' (see --help)" ;;
	*) out=$1; shift ;;
	esac
done
for layout in ${layouts//,/ }; do
	case $layout in
	iommu-2m | iommu-thp | iommu-4k) ;;
	*) gb_die "unknown layout '$layout' (iommu-2m, iommu-thp, iommu-4k)" ;;
	esac
done
mkdir -p "$out/logs"
failed=0 start=$(date +%s)

# The simulator is a host program: its own build, without the tests.
sim_dir=build/iotlb-sim
cmake -S . -B "$sim_dir" -DSAFENIC_TESTS=OFF > /dev/null
cmake --build "$sim_dir" -j2 --target safenic-iotlb-sim > "$out/iotlb-sim-build.log" 2>&1 ||
	gb_die "building safenic-iotlb-sim failed; see $out/iotlb-sim-build.log"
sim=$sim_dir/benchmarks/safenic-iotlb-sim

# extract RIDS PREFIX < TRACE: the translations of the requester ids RIDS
# (space-separated, 0x-hex as the trace prints them), one file per phase
# (PREFIX<n>.seq, "requester domain iova"), phases delimited as
# perf-iotlb.sh marks them (reads of 00:00.0 at 0xe0 and 0xe4).
extract() {
	awk -v rids="$1" -v prefix="$2" '
	BEGIN { n = split(rids, r, " "); for (i = 1; i <= n; i++) want[tolower(r[i])] = 1 }
	$1 == "pci_cfg_read" && $2 == "mch" && $3 == "00:00.0" {
		if ($4 == "@0xe0") { phase++; inph = 1; file = prefix phase ".seq"; printf "" > file }
		else if ($4 == "@0xe4" && inph) { inph = 0; close(file) }
		next
	}
	inph && ($1 == "vtd_iotlb_page_hit" || $1 == "vtd_iotlb_page_update") {
		sid = iova = dom = ""
		for (i = 2; i < NF; i++) {
			if ($i == "sid") sid = tolower($(i + 1))
			else if ($i == "iova") iova = $(i + 1)
			else if ($i == "domain") dom = $(i + 1)
		}
		if (sid in want && iova != "" && dom != "") print sid, dom, iova > file
	}'
}

commit=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2> /dev/null)" ] || commit=$commit+changes
if [ "$report_only" -eq 0 ]; then
	gb_prepare_safenic "$bin" "$out"
	[ -n "$bin" ] || bin=build/perf-static/src/cli/safenic
	for layout in ${layouts//,/ }; do
		log=$out/logs/iotlb-model-$layout.console.log
		trace=$out/iotlb-model-$layout.trace
		nvar=$(echo "$variants" | tr , '\n' | wc -l)
		timeout=$((nvar * (secs + 90) + 300))
		rm -f "$trace" "$out/iotlb-$layout-p"*.seq
		echo "date=$(date -u +%Y-%m-%dT%H:%MZ) commit=$commit secs=$secs rate=$rate" > "$out/iotlb-model-$layout.run"
		gb_say "=== $layout: e1000e, variants $variants, $rate frames/s for ${secs} s (timeout ${timeout} s)"
		# Into a file, not a FIFO (device-work.sh says why).
		gb_guest "$log" --scenario perf-iotlb --nic e1000e --iommu on --timeout "$timeout" \
			--param perf_nic=e1000e --param "memmode=$layout" --param "variants=$variants" \
			--param "secs=$secs" --param "rate=$rate" \
			--qemu-arg -trace --qemu-arg vtd_iotlb_page_hit \
			--qemu-arg -trace --qemu-arg vtd_iotlb_page_update \
			--qemu-arg -trace --qemu-arg pci_cfg_read \
			--qemu-arg -D --qemu-arg "$trace" || failed=1
		gb_say "trace: $(du -h "$trace" 2> /dev/null | cut -f1) to extract"
		first=$(gb_runs "$log" | head -1)
		rids="$(gb_field "$first" rid_a) $(gb_field "$first" rid_b)"
		[ ! -f "$trace" ] || extract "$rids" "$out/iotlb-$layout-p" < "$trace"
		rm -f "$trace"
	done
fi

# The CSV: every run, replayed through every IOTLB geometry.
csv=$out/iotlb-model.csv
echo "date,commit,nic,layout,ring,pool,rate,secs,dma_pages,label,page,entries,ways,translations,pages,frames,misses,misses_per_frame" > "$csv"
runs_date=""
for layout in ${layouts//,/ }; do
	meta=$(cat "$out/iotlb-model-$layout.run" 2> /dev/null || true)
	log=$out/logs/iotlb-model-$layout.console.log
	[ -f "$log" ] || { failed=1; gb_say "$layout: no console log $log"; continue; }
	runs_date="$runs_date $(gb_field "$meta" date)"
	got=0
	while read -r line; do
		phase=$(gb_field "$line" phase) frames=$(gb_field "$line" packets)
		seq=$out/iotlb-$layout-p$phase.seq
		case $(gb_field "$line" page) in
		2MiB) page=2m ;;
		4KiB) page=4k ;;
		*) page="" ;;
		esac
		if [ "$(gb_field "$line" status)" != ok ] || [ ! -s "$seq" ] || [ -z "$page" ] ||
			! [ "$frames" -gt 0 ] 2> /dev/null; then
			failed=1
			gb_say "FAILED run (translations: $([ -s "$seq" ] && echo yes || echo none)): $line"
			continue
		fi
		# A 2 MiB layout (hugetlb or THP) must not have fallen back, nor a
		# 4 KiB one kept huge pages.
		if [ "iommu-$page" != "${layout/thp/2m}" ]; then
			failed=1
			gb_say "$layout: fwd had $(gb_field "$line" page) pages: $line"
			continue
		fi
		got=$((got + 1))
		prefix="$(gb_field "$meta" date),$(gb_field "$meta" commit),$(gb_field "$line" nic),$layout"
		prefix="$prefix,$(gb_field "$line" ring),$(gb_field "$line" pool),$(gb_field "$meta" rate)"
		prefix="$prefix,$(gb_field "$meta" secs),$(gb_field "$line" pages)"
		"$sim" --page "$page" --frames "$frames" --entries "$entries" --ways "$ways" \
			--label "$layout" "$seq" | sed "s/^/$prefix,/" >> "$csv" || failed=1
	done < <(gb_runs "$log")
	want=$(echo "$variants" | tr , '\n' | wc -l)
	if [ "$got" -ne "$want" ]; then
		failed=1
		gb_say "$layout: $got of $want runs replayed; see $log"
		gb_failures "$log"
	fi
done

col() { head -1 "$csv" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }

echo
echo "IOTLB misses per forwarded frame, simulated on the translations of safenic fwd (e1000e)," \
	"run $(echo "$runs_date" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')(UTC)," \
	"safenic at $(tail -n +2 "$csv" | cut -d, -f2 | sort -u | tr '\n' ' ')"
echo "machine: $(gb_machine)"
echo "source: $rate frames/s for $secs s per run, 60-byte frames; one LRU IOTLB for both NICs."
echo "Per run: translations per frame, distinct pages touched; then misses per frame by IOTLB entries."
for w in ${ways//,/ }; do
	[ "$w" = 0 ] && wl=full || wl=$w
	echo
	echo "$([ "$wl" = full ] && echo "fully associative" || echo "$wl-way set-associative"):"
	awk -F, -v wl="$wl" -v L="$(col layout)" -v R="$(col ring)" -v P="$(col pool)" \
		-v E="$(col entries)" -v W="$(col ways)" -v T="$(col translations)" \
		-v G="$(col pages)" -v F="$(col frames)" -v M="$(col misses_per_frame)" '
	NR > 1 && $W == wl {
		k = $L " " $R " " $P
		if (!(k in seen)) { seen[k] = 1; order[++n] = k; tr[k] = $T / $F; pg[k] = $G; fr[k] = $F }
		if (!($E in es)) { es[$E] = 1; el[++ne] = $E }
		m[k, $E] = $M
	}
	END {
		if (!n) exit
		printf "%-9s %5s %6s %7s %7s %6s", "layout", "ring", "pool", "frames", "tr/frm", "pages"
		for (j = 1; j <= ne; j++) printf " %7s", el[j]
		printf "\n"
		for (i = 1; i <= n; i++) {
			split(order[i], a, " ")
			printf "%-9s %5s %6s %7d %7.1f %6d", a[1], a[2], a[3], fr[order[i]], tr[order[i]], pg[order[i]]
			for (j = 1; j <= ne; j++) printf " %7.3f", m[order[i], el[j]]
			printf "\n"
		}
	}' "$csv"
done

# The plot: misses per frame against IOTLB entries, one line per layout
# and variant, for the first associativity asked.
if [ "$(wc -l < "$csv")" -gt 1 ] && command -v gnuplot > /dev/null; then
	png=$out/iotlb-model.png
	w=${ways%%,*}
	[ "$w" = 0 ] && wl=full || wl=$w
	plots=""
	while read -r key; do
		dat=$out/iotlb-model-${key//:/-}.dat
		awk -F, -v wl="$wl" -v key="$key" -v L="$(col layout)" -v R="$(col ring)" -v P="$(col pool)" \
			-v E="$(col entries)" -v W="$(col ways)" -v M="$(col misses_per_frame)" \
			'NR > 1 && $W == wl && $L ":" $R ":" $P == key { print $E, $M }' "$csv" > "$dat"
		layout=${key%%:*} rest=${key#*:}
		case $layout in
		iommu-2m) style="lw 2 dt 1" name="2 MiB hugetlb" ;;
		iommu-thp) style="lw 2 dt 3" name="THP (2 MiB)" ;;
		*) style="lw 2 dt 2" name="4 KiB" ;;
		esac
		plots+="${plots:+, }'$dat' using 1:2 with linespoints $style title '$name, ring ${rest%%:*}, pool ${rest#*:}'"
	done < <(awk -F, -v L="$(col layout)" -v R="$(col ring)" -v P="$(col pool)" \
		'NR > 1 { k = $L ":" $R ":" $P; if (!(k in s)) { s[k] = 1; print k } }' "$csv")
	gnuplot <<-PLOT
		set terminal pngcairo size 1150,560
		set output '$png'
		set title "IOTLB misses per forwarded frame, simulated ($wl-way LRU, shared by both NICs)\nsafenic fwd on e1000e, translations recorded from QEMU's VT-d model, $(date +%Y-%m-%d)"
		set xlabel 'IOTLB entries'
		set ylabel 'misses per forwarded frame'
		set logscale x 2
		set xtics (32, 64, 128, 256, 512, 1024)
		set yrange [0:*]
		set grid
		set key outside right top
		plot $plots
	PLOT
	gb_say "plot: $png"
fi
echo
gb_say "every run: $csv; $(($(date +%s) - start)) s in all, waits for other guests included"
if [ "$failed" -ne 0 ]; then
	gb_say "FAILED: some runs gave no replayable translations (see above and $out/logs/)"
	exit 1
fi
[ "$smoke" -eq 0 ] || gb_say "smoke run passed"
