#!/bin/sh
# perf-iotlb: what the forwarding NICs translate, for the IOTLB model
# (benchmarks/iotlb-model.sh boots one guest per memory layout, traces
# QEMU's VT-d translations and replays them through benchmarks/iotlb.c).
# chain4 (perf-iommu's wiring):
#   safenic gen NIC1 -> hub -> NIC2 [safenic fwd --ring R --pool P] NIC3 -> hub -> NIC4 safenic recv
# One run per ring:pool variant. The source (CPU 0) sends RATE frames a
# second for SECS, 60-byte frames; the sink counts (delivered=). fwd runs
# alone on CPU 1, polling, batch 32.
#
# Memory layouts (one per guest):
#   iommu-2m  packet memory in 2 MiB hugetlb pages (safenic's default)
#   iommu-thp no hugetlb page free while fwd starts, fwd --memory thp:
#             transparent huge pages, mapped as 2 MiB IOMMU pages
#   iommu-4k  no huge page free while fwd starts, fwd --memory 4k (else
#             it would take transparent huge pages): 4 KiB pages (safenic
#             warns); source and sink keep 2 MiB pages, as in perf-iommu
#
# Phases, as in perf-device-work: each run is one phase of the trace,
# between reads of the host bridge's configuration space at 0xe0 (begin)
# and 0xe4 (end). A phase starts once fwd is set up and polling and ends
# before it is stopped, so ring and pool set-up stay out; the source sends
# only inside the phase, and its last frames have landed (a second)
# before the end. Each PERF-RUN line names the forwarding NICs' requester
# ids (rid_a, rid_b: bus << 8 | device << 3 | function), the run's
# forwarded frames (packets=, a_to_b) and the DMA memory fwd had (page=,
# pages=).
#
# Kernel command line knobs: safenic.perf_nic (label), safenic.memmode
# (iommu-2m), safenic.variants (RING:POOL,..., default
# 512:8192,128:8192,2048:8192,512:2048,512:32768), safenic.secs (4),
# safenic.rate (5000).
. /lib/safenic-bench/lib.sh
. /scenarios/perf-lib.sh

NIC=$(param perf_nic unknown)
MEMMODE=$(param memmode iommu-2m)
VARIANTS=$(param variants 512:8192,128:8192,2048:8192,512:2048,512:32768)
SECS=$(param secs 4)
RATE=$(param rate 5000)
HUGEPAGES=$(cat /proc/sys/vm/nr_hugepages)
PHASE=0

# rid BDF: the PCI requester id, in hex.
rid() {
    local bdf=${1#*:} bus dev fn
    bus=${bdf%%:*} dev=${bdf#*:}
    fn=${dev#*.} dev=${dev%.*}
    printf '0x%x\n' $(((0x$bus << 8) | (0x$dev << 3) | fn))
}

mark() {
    dd if=/sys/bus/pci/devices/0000:00:00.0/config of=/dev/null bs=4 \
        skip=$(($1 / 4)) count=1 2> /dev/null
}

# The --memory fwd is given for the layout.
memory_kind() {
    case $MEMMODE in
        iommu-2m) echo hugetlb ;;
        iommu-thp) echo thp ;;
        *) echo 4k ;;
    esac
}

# run_one RING POOL
run_one() {
    local ring=$1 pool=$2 name=fwd-$1-$2 ok=1 line page pages phase=none
    SINK_RX="" OFFERED=""
    if ! perf_sink_start "$NIC4"; then
        perf_report "nic=$NIC memmode=$MEMMODE ring=$ring pool=$pool status=fail"
        return
    fi
    # fwd alone without hugetlb pages (source and sink keep theirs).
    [ "$MEMMODE" = iommu-2m ] || echo 0 > /proc/sys/vm/nr_hugepages
    perf_safenic_start "$name" fwd "$NIC2" "$NIC3" --ring "$ring" --pool "$pool" \
        --memory "$(memory_kind)" || ok=0
    [ "$MEMMODE" = iommu-2m ] || echo "$HUGEPAGES" > /proc/sys/vm/nr_hugepages
    if [ "$ok" = 1 ]; then
        PHASE=$((PHASE + 1))
        phase=$PHASE
        mark 0xe0
        start_bg "src-$name" taskset "$PERF_HELPER_CPU" safenic gen "$NIC1" --dst-mac "$MAC4" \
            --size "$PERF_SIZE" --rate "$RATE" --duration "$SECS"
        wait_exit "$BG_PID" $((SECS + 60)) "src-$name" ||
            { perf_fail "source exited $?" "src-$name"; ok=0; }
        OFFERED=$(summary_value "src-$name" gen tx_packets)
        sleep 1
        mark 0xe4
        perf_safenic_finish "$name" fwd || ok=0
    fi
    perf_sink_stop
    # "DMA memory: hugetlb 2 MiB pages, 26 MiB in 5 regions spanning 13 IOMMU
    # pages" (THP: "THP 2 MiB pages (13 of 13 units huge), ..."; 4 KiB:
    # "4 KiB pages, ..."): page= is the size alone.
    line=$(grep '^DMA memory' "$LOG_DIR/$name.log" | tail -1)
    page=$(echo "$line" | sed -n 's/^DMA memory: [A-Za-z]* *\([0-9]* [KMG]iB\) pages.*/\1/p' |
        tr -d ' ')
    pages=$(echo "$line" | sed -n 's/.* spanning \([0-9]*\) .*/\1/p')
    perf_report "nic=$NIC memmode=$MEMMODE ring=$ring pool=$pool phase=$phase" \
        "rid_a=$(rid "$NIC2") rid_b=$(rid "$NIC3")" \
        "status=$([ $ok = 1 ] && echo ok || echo fail) page=${page:-missing}" \
        "pages=${pages:-missing} offered=${OFFERED:-missing} delivered=${SINK_RX:-missing}"
}

perf_init
echo "perf-iotlb: nic=$NIC memmode=$MEMMODE variants=$VARIANTS secs=$SECS rate=$RATE" \
     "hugepages=$HUGEPAGES"
case $MEMMODE in
    iommu-2m | iommu-thp | iommu-4k) ;;
    *) echo "perf-iotlb: unknown memmode '$MEMMODE' (iommu-2m, iommu-thp, iommu-4k)"
       PERF_FAILS=$((PERF_FAILS + 1)); VARIANTS="" ;;
esac
have_iommu || { echo "perf-iotlb: needs the IOMMU"; PERF_FAILS=$((PERF_FAILS + 1)); VARIANTS=""; }
SINK_PID=""
for v in $(echo "$VARIANTS" | tr , ' '); do
    run_one "${v%%:*}" "${v#*:}"
done
[ "$PERF_RUNS" -gt 0 ] || PERF_FAILS=$((PERF_FAILS + 1))
echo "perf-iotlb: $PERF_RUNS runs, $PERF_FAILS failures"
[ "$PERF_FAILS" -eq 0 ] && verdict perf-iotlb "runs=$PERF_RUNS" ||
    { echo "VERDICT perf-iotlb FAIL runs=$PERF_RUNS failures=$PERF_FAILS"; exit 1; }
