#!/usr/bin/env bash
# What each driver makes the emulated device do, per frame: safenic and
# DPDK 22.11's testpmd take turns on the same NICs of one guest per NIC
# model (bench/guest/scenarios/perf-device-work.sh says how each mode is
# wired), while QEMU's own trace events, counted here once the guest is
# done, give for the contender's NICs only:
#   MMIO reads, writes   guest accesses to the NIC's registers
#                        (memory_region_ops_read/_write on its regions)
#   doorbells            the writes among them that hand descriptors
#                        over: receive and transmit tail registers
#                        (Intel), the notify region (virtio; its guest
#                        runs with ioeventfd=off, without which QEMU takes
#                        notify writes through an eventfd, untraced)
#   write-backs          what the device writes back into the rings:
#                        Intel: receive descriptors (e1000e_rx_descr) and
#                        transmit descriptors with RS set (e1000e_tx_descr;
#                        the igb model shares e1000e's events); virtio:
#                        used-ring entries (virtqueue_fill) and used-index
#                        updates (virtqueue_flush)
#   translations         DMA addresses the emulated IOMMU translated for
#                        these NICs (vtd_iotlb_page_hit + _update, by
#                        requester id), misses among them
#   interrupts           MSI-X/MSI/INTx the device sent (e1000e_irq_*
#                        notify events) or virtio notifications the
#                        driver did not suppress (virtio_notify)
#   clock reads          HPET reads by the contender's CPU (the guest's
#                        clock source under TCG; the kernel's own ticks
#                        included, the same for both)
# Per frame: sent (tx), received (rx), forwarded (fwd: frames the second
# NIC sent), counted in the same trace. The helper NICs (source, sink)
# are of another model family, so the model events are the contender's.
# Tracing slows QEMU several times: the rates of these runs mean nothing
# (vs-dpdk.sh measures rates); rx and fwd get a paced source that both
# contenders keep up with, so that both handle the same frames.
#
#   sudo benchmarks/device-work.sh [options] [OUT_DIR]     (default: build/bench)
#     --nics LIST      virtio,e1000e,igb (the default)
#     --modes LIST     tx,rx,fwd (the default)
#     --secs N         5 (seconds of traffic per run)
#     --rate PPS       2000 (the rx and fwd source's frames per second)
#     --reps N         1 (runs per contender and mode; counts are summed)
#     --smoke          e1000e, fwd, 2 s: checks the machinery (fails only
#                      when a run or a count is missing)
#     --safenic BIN    a static safenic (default: built in build/perf-static)
#     --keep-trace     keep QEMU's trace, OUT_DIR/device-work-NIC.trace
#     --report         boot nothing: rebuild the CSV and the table from
#                      the counts and consoles a run left in OUT_DIR
# Writes OUT_DIR/device-work.csv (every run: raw counts and per frame),
# the guests' consoles in OUT_DIR/logs/, the counts per phase in
# OUT_DIR/device-work-NIC.counts, and prints the table. Needs root;
# one guest at a time (it holds /tmp/safenic-guest.lock). About 4 min per
# NIC model with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
GB_NAME="device-work"
. benchmarks/guest-lib.sh

# count FAMILY MEASURED_CPU < TRACE: QEMU's trace, as its log backend
# writes it (one "event args" line per event), into per-phase counts, one
# "PHASE n key=value..." line per phase. FAMILY (intel or virtio) names
# the contender's NICs: the PCI devices of that family, from the BAR
# mappings the trace shows at boot. A phase runs from the guest's read of
# 00:00.0 at 0xe0 to its read at 0xe4 (perf-device-work.sh).
count() {
	awk -v fam="$1" -v cpu="$2" '
	function hex(s,   i, c, v) {
		s = tolower(s); sub(/^0x/, "", s); v = 0
		for (i = 1; i <= length(s); i++) {
			c = index("0123456789abcdef", substr(s, i, 1))
			if (!c) break
			v = v * 16 + c - 1
		}
		return v
	}
	function bit(v, n) { return int(v / 2 ^ n) % 2 }
	# Intel tail registers: e1000e queues 0-1 (and the 82576 aliases of
	# queues 0-3) at 0x2818/0x3818 + 0x100 q; igb queues 0-15 at
	# 0xc018/0xe018 + 0x40 q.
	function tail(off, legacy, adv) {
		if (off >= legacy && off < legacy + 1024 && (off - legacy) % 256 == 0) return 1
		return off >= adv && off < adv + 1024 && (off - adv) % 64 == 0
	}
	function top(a,   k, n, best, out, i, bk) {
		out = ""
		for (i = 0; i < 6; i++) {
			best = 0; bk = ""
			for (k in a) if (a[k] > best) { best = a[k]; bk = k }
			if (bk == "") break
			out = out (out == "" ? "" : ",") bk ":" best
			delete a[bk]
		}
		return out == "" ? "-" : out
	}
	function reset() {
		split("txf rxf txd ctx rd wr dbrx dbtx tr miss txwb rxwb idxwb irq clk kick", names, " ")
		for (i in names) c[names[i]] = 0
		for (k in rdo) delete rdo[k]
		for (k in wro) delete wro[k]
	}
	$1 == "pci_update_mappings_add" {
		mine = fam == "intel" ? ($2 == "e1000e" || $2 == "igb") : ($2 ~ /^virtio-net/)
		if (!mine) next
		sid[hex(substr($3, 1, 2)) * 256 + hex(substr($3, 4, 2)) * 8 + substr($3, 7, 1)] = 1
		split($4, b, /[,+]/)
		if (b[1] == 0) { base[$3] = hex(b[2]); size[$3] = hex(b[3]) }
		next
	}
	$1 == "pci_cfg_read" && $2 == "mch" && $3 == "00:00.0" {
		if ($4 == "@0xe0") { reset(); inph = 1; n++ }
		else if ($4 == "@0xe4" && inph) {
			inph = 0
			line = "PHASE " n
			for (i = 1; i <= 16; i++) line = line " " names[i] "=" c[names[i]]
			print line " rdregs=" top(rdo) " wrregs=" top(wro)
			fflush()
		}
		next
	}
	!inph { next }
	$1 == "memory_region_ops_read" || $1 == "memory_region_ops_write" {
		name = $NF
		if (name == "\047hpet\047") { if ($1 ~ /read$/ && $3 == cpu) c["clk"]++; next }
		if (fam == "intel" ? name !~ /^.(e1000e|igb)-/ : name !~ /^.virtio-pci-/) next
		read = $1 ~ /read$/
		key = name
		if (fam == "intel") {
			addr = hex($7)
			for (d in base) if (addr >= base[d] && addr < base[d] + size[d]) key = sprintf("0x%x", addr - base[d])
		} else {
			sub(/^.virtio-pci-/, "", key); sub(/-virtio-net.$/, "", key)
		}
		if (read) { c["rd"]++; rdo[key]++; next }
		c["wr"]++
		if (fam == "intel") {
			off = hex(key)
			if (key ~ /^0x/ && tail(off, hex("2818"), hex("c018"))) { c["dbrx"]++; next }
			if (key ~ /^0x/ && tail(off, hex("3818"), hex("e018"))) { c["dbtx"]++; next }
		} else if (key == "notify") {
			# The value is the queue index: even = receive, odd = transmit.
			if (hex($9) % 2) c["dbtx"]++; else c["dbrx"]++
			next
		}
		wro[key]++
		next
	}
	$1 == "vtd_iotlb_page_hit" || $1 == "vtd_iotlb_page_update" {
		if (!match($0, /sid 0x[0-9a-fA-F]+/)) next
		if (hex(substr($0, RSTART + 4, RLENGTH - 4)) in sid) {
			c["tr"]++
			if ($1 ~ /update$/) c["miss"]++
		}
		next
	}
	# Legacy descriptor: length, CSO, CMD (EOP bit 24, RS bit 27); an
	# extended one has DEXT (bit 29) and its type in bits 20-23 (0 and 2
	# are context descriptors, no frame).
	$1 == "e1000e_tx_descr" {
		v = hex($4)
		c["txd"]++
		if (bit(v, 29) && (int(v / 2 ^ 20) % 16 == 0 || int(v / 2 ^ 20) % 16 == 2)) c["ctx"]++
		else if (bit(v, 24)) c["txf"]++
		if (bit(v, 27)) c["txwb"]++
		next
	}
	$1 == "e1000e_rx_descr" { c["rxf"]++; c["rxwb"]++; next }
	$1 ~ /^e1000e_irq_(msix_notify_vec|msix_notify_postponed_vec|msi_notify|msi_notify_postponed)$/ {
		c["irq"]++; next
	}
	$1 == "e1000e_irq_legacy_notify" { if ($NF == 1) c["irq"]++; next }
	# virtio-net pushes a transmitted element with length 0, a received
	# one with the bytes it wrote.
	$1 == "virtqueue_fill" {
		for (i = 2; i < NF; i++) if ($i == "len") len = $(i + 1)
		if (len == 0) { c["txf"]++; c["txwb"]++ } else { c["rxf"]++; c["rxwb"]++ }
		next
	}
	$1 == "virtqueue_flush" { c["idxwb"]++; next }
	$1 == "virtio_notify" { c["irq"]++; next }
	# Notifications the device acted on (its ioeventfd off: one per write).
	$1 == "virtio_queue_notify" { c["kick"]++; next }
	'
}

# The trace events for a family's contender.
trace_args() {
	local ev
	for ev in pci_update_mappings_add pci_cfg_read memory_region_ops_read \
		memory_region_ops_write vtd_iotlb_page_hit vtd_iotlb_page_update; do
		echo "--qemu-arg -trace --qemu-arg $ev"
	done
	if [ "$1" = intel ]; then
		for ev in e1000e_tx_descr e1000e_rx_descr e1000e_irq_msix_notify_vec \
			e1000e_irq_msix_notify_postponed_vec e1000e_irq_msi_notify \
			e1000e_irq_msi_notify_postponed e1000e_irq_legacy_notify; do
			echo "--qemu-arg -trace --qemu-arg $ev"
		done
	else
		for ev in virtqueue_fill virtqueue_flush virtio_notify virtio_queue_notify; do
			echo "--qemu-arg -trace --qemu-arg $ev"
		done
	fi
}

nics=virtio,e1000e,igb modes=tx,rx,fwd secs=5 rate=2000 reps=1 bin="" out=build/bench smoke=0 keep=0
report_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 nics=e1000e modes=fwd secs=2; shift ;;
	--nics) nics=$2; shift 2 ;;
	--modes) modes=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--safenic) bin=$2; shift 2 ;;
	--keep-trace) keep=1; shift ;;
	--report) report_only=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) gb_die "unknown option '$1' (see --help)" ;;
	*) out=$1; shift ;;
	esac
done
for nic in ${nics//,/ }; do
	case $nic in
	virtio | e1000e | igb) ;;
	*) gb_die "unknown NIC model '$nic' (virtio, e1000e, igb)" ;;
	esac
done
mkdir -p "$out/logs"
failed=0 start=$(date +%s)

# One guest per NIC model: its console, its counts, and a line saying
# what ran (the report reads them).
if [ "$report_only" -eq 0 ]; then
	gb_prepare "$bin" "$out"
	commit=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
	[ -z "$(git status --porcelain --untracked-files=no 2> /dev/null)" ] || commit=$commit+changes
	for nic in ${nics//,/ }; do
		fam=intel helper=virtio extra=()
		if [ "$nic" = virtio ]; then
			fam=virtio helper=e1000e
			extra=(--qemu-arg -global --qemu-arg virtio-net-pci.ioeventfd=off)
		fi
		log=$out/logs/device-work-$nic.console.log
		trace=$out/device-work-$nic.trace counts=$out/device-work-$nic.counts
		nmodes=$(echo "$modes" | tr , '\n' | wc -l)
		timeout=$((3 * nmodes * reps * 2 * (secs + 40) + 300))
		gb_say "=== $nic (helpers $helper): modes $modes, ${secs} s, source $rate/s (timeout ${timeout} s)"
		echo "date=$(date -u +%Y-%m-%dT%H:%MZ) commit=$commit secs=$secs rate=$rate" > "$out/device-work-$nic.run"
		# QEMU's log backend writes one line per event into a file,
		# counted once the guest is done (hundreds of MB; removed then).
		# Not a FIFO: with one, the guest's CPU 1 stopped getting its
		# timer interrupts, in boot or later (seen twice, QEMU 10.0.2).
		rm -f "$trace" "$counts"
		# shellcheck disable=SC2046  # one word per argument
		gb_guest "$log" --scenario perf-device-work --nic "$helper,$nic,$nic,$helper" \
			--timeout "$timeout" --param "perf_nic=$nic" --param "modes=$modes" \
			--param "secs=$secs" --param "rate=$rate" --param "reps=$reps" "${extra[@]}" \
			$(trace_args "$fam") --qemu-arg -D --qemu-arg "$trace" || failed=1
		gb_say "trace: $(du -h "$trace" 2> /dev/null | cut -f1) to count"
		# CPU 1 (index 1) is the contender's.
		[ ! -f "$trace" ] || count "$fam" 1 < "$trace" > "$counts"
		[ "$keep" -eq 1 ] || rm -f "$trace"
	done
fi

# The CSV: one row per run, from the PERF-RUN lines and the counts of
# their phases; the per-frame columns divide by the frames the trace
# shows (sent in tx and fwd, received in rx).
csv=$out/device-work.csv
keys="txf rxf txd ctx rd wr dbrx dbtx tr miss txwb rxwb idxwb irq clk kick"
pf="mmio_reads mmio_writes rx_doorbells tx_doorbells writebacks translations iotlb_misses interrupts clock_reads"
echo "date,commit,nic,mode,contender,rep,frames,packets,offered,window_s,${keys// /,},${pf// /_pf,}_pf,rdregs,wrregs" > "$csv"
runs_date=""
for nic in ${nics//,/ }; do
	log=$out/logs/device-work-$nic.console.log counts=$out/device-work-$nic.counts
	meta=$(cat "$out/device-work-$nic.run" 2> /dev/null || true)
	runs_date="$runs_date $(gb_field "$meta" date)"
	want=$(($(echo "$modes" | tr , '\n' | wc -l) * reps * 2)) got=0
	[ -f "$log" ] || { failed=1; gb_say "$nic: no console log $log"; continue; }
	while read -r line; do
		status=$(gb_field "$line" status) phase=$(gb_field "$line" phase)
		mode=$(gb_field "$line" mode)
		counted=$(grep "^PHASE $phase " "$counts" 2> /dev/null || true)
		if [ "$status" != ok ] || [ -z "$counted" ]; then
			failed=1
			gb_say "FAILED run (${counted:+counted}${counted:-no counts}): $line"
			continue
		fi
		got=$((got + 1))
		row=$(gb_field "$meta" date),$(gb_field "$meta" commit),$nic,$mode
		for key in contender rep; do row=$row,$(gb_field "$line" "$key"); done
		row=$row,$(gb_field "$counted" "$([ "$mode" = rx ] && echo rxf || echo txf)")
		for key in packets offered window; do row=$row,$(gb_field "$line" "$key"); done
		for key in $keys; do row=$row,$(gb_field "$counted" "$key"); done
		echo "$row,,,,,,,,,,$(gb_field "$counted" rdregs | tr , ' '),$(gb_field "$counted" wrregs | tr , ' ')" >> "$csv"
	done < <(gb_runs "$log")
	if [ "$got" -ne "$want" ]; then
		failed=1
		gb_say "$nic: $got of $want runs gave counts; see $log"
		gb_failures "$log"
	fi
done
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print; next }
	function pf(v) { return $(col["frames"]) > 0 ? sprintf("%.3f", v / $(col["frames"])) : "" }
	{
		$(col["mmio_reads_pf"]) = pf($(col["rd"]))
		$(col["mmio_writes_pf"]) = pf($(col["wr"]))
		$(col["rx_doorbells_pf"]) = pf($(col["dbrx"]))
		$(col["tx_doorbells_pf"]) = pf($(col["dbtx"]))
		$(col["writebacks_pf"]) = pf($(col["txwb"]) + $(col["rxwb"]) + $(col["idxwb"]))
		$(col["translations_pf"]) = pf($(col["tr"]))
		$(col["iotlb_misses_pf"]) = pf($(col["miss"]))
		$(col["interrupts_pf"]) = pf($(col["irq"]))
		$(col["clock_reads_pf"]) = pf($(col["clk"]))
		print
	}' "$csv" > "$csv.tmp" && mv "$csv.tmp" "$csv"

echo
echo "Device work per frame, safenic / DPDK testpmd 22.11, from QEMU's trace events;" \
	"run $(echo "$runs_date" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')(UTC), safenic at" \
	"$(tail -n +2 "$csv" | cut -d, -f2 | sort -u | tr '\n' ' ')"
echo "machine: $(gb_machine)"
echo "tx: flat out for ${secs} s; rx, fwd: a source at $rate frames/s for ${secs} s; 60-byte frames."
echo "Per frame sent (tx), received (rx), forwarded (fwd); each cell: safenic / testpmd."
echo
# Reps are summed before dividing.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{
		k = $(col["nic"]) SUBSEP $(col["mode"]); who = $(col["contender"]) == "dpdk" ? 2 : 1
		if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		f[k, who] += $(col["frames"])
		v[k, who, 1] += $(col["rd"]); v[k, who, 2] += $(col["wr"])
		v[k, who, 3] += $(col["dbrx"]); v[k, who, 4] += $(col["dbtx"])
		v[k, who, 5] += $(col["txwb"]) + $(col["rxwb"]) + $(col["idxwb"])
		v[k, who, 6] += $(col["tr"]); v[k, who, 7] += $(col["irq"]); v[k, who, 8] += $(col["clk"])
	}
	function cell(k, m,   a, b) {
		a = f[k, 1] > 0 ? sprintf("%.2f", v[k, 1, m] / f[k, 1]) : "-"
		b = f[k, 2] > 0 ? sprintf("%.2f", v[k, 2, m] / f[k, 2]) : "-"
		return a " / " b
	}
	END {
		printf "%-6s %-4s %13s %12s %12s %12s %12s %13s %13s %12s %12s\n", "NIC", "mode",
			"frames", "MMIO reads", "MMIO writes", "rx doorbell", "tx doorbell",
			"write-backs", "translations", "interrupts", "clock reads"
		for (i = 1; i <= n; i++) {
			split(order[i], kk, SUBSEP)
			line = sprintf("%-6s %-4s %13s", kk[1], kk[2], f[order[i], 1] + 0 "/" f[order[i], 2] + 0)
			for (m = 1; m <= 8; m++) line = line sprintf(" %" (m == 5 || m == 6 ? 13 : 12) "s", cell(order[i], m))
			print line
		}
	}' "$csv"
echo
echo "Registers read, and written other than doorbells, by the contender in each run (offset or region: count):"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{ printf "  %-6s %-4s %-7s reads %s; writes %s\n", $(col["nic"]), $(col["mode"]),
		$(col["contender"]), $(col["rdregs"]), $(col["wrregs"]) }' "$csv"
echo
gb_say "every run: $csv; $(($(date +%s) - start)) s in all, waits for other guests included"
if [ "$failed" -ne 0 ]; then
	gb_say "FAILED: some runs gave no counts (see above and $out/logs/)"
	exit 1
fi
[ "$smoke" -eq 0 ] || gb_say "smoke run passed"
