#!/bin/sh
# perf-iommu: safenic fwd's rate over a sweep of batch sizes, for the
# memory modes this guest offers (benchmarks/iommu-eval.sh boots two
# guests and reads the PERF-RUN lines):
#   with the IOMMU:    iommu-2m  packet memory in 2 MiB pages (huge pages
#                                reserved, safenic's default layout)
#                      iommu-thp no huge page free, --memory thp: 2 MiB
#                                transparent huge pages
#                      iommu-4k  no huge page free, --memory 4k: 4 KiB
#                                pages (safenic warns)
#   without an IOMMU:  unsafe    --unsafe, physical addresses, 2 MiB pages
# Wiring (chain4), the same for every mode:
#   safenic gen NIC1 -> hub -> NIC2 [safenic fwd --batch B] NIC3 -> hub -> NIC4 safenic recv
# The source (CPU 0, as fast as it can) runs through the whole sweep; the
# sink (CPU 0, counting: delivered=) is restarted for every run; fwd runs
# alone on CPU 1. Source and sink always sit in 2 MiB pages: in iommu-4k
# and iommu-thp the free huge pages are given back only after the sink
# started, and reserved again after the run, so only the forwarder's
# memory changes. With the IOMMU the modes take turns at every batch size
# (the order reversed every other time), so a drift hits them alike.
#
# Each run's line carries the forwarder's "DMA memory" line as page=
# (2MiB, 4KiB), memory= (hugetlb, thp, 4k: memory_kind in lib.sh) and
# pages= (how many IOMMU or physical pages it spans).
#
# Kernel command line knobs: safenic.perf_nic (label), safenic.batches
# (1,4,8,16,32,64,128,256), safenic.secs (5), safenic.reps (1),
# safenic.memmodes (with the IOMMU: which of iommu-2m,iommu-thp,iommu-4k;
# default iommu-2m,iommu-4k).
. /lib/safenic-bench/lib.sh
. /scenarios/perf-lib.sh

NIC=$(param perf_nic unknown)
BATCHES=$(param batches 1,4,8,16,32,64,128,256)
SECS=$(param secs 5)
REPS=$(param reps 1)
HUGEPAGES=$(cat /proc/sys/vm/nr_hugepages)
UNSAFE=""
UNSAFE_OR_MEMORY=""

# set_hugepages N: reserve N 2 MiB pages in all (pages in use stay).
set_hugepages() {
    echo "$1" > /proc/sys/vm/nr_hugepages
}

free_hugepages() {
    sed -n 's/^HugePages_Free: *//p' /proc/meminfo
}

# run_fwd MEMMODE BATCH REP
run_fwd() {
    local memmode=$1 batch=$2 rep=$3 name=fwd-$1-$2-$3 ok=1 line page pages kind memory=auto
    SINK_RX=""
    if ! perf_sink_start "$NIC4" $UNSAFE; then
        RUN_PACKETS="" RUN_SECONDS="" RUN_PPS="" RUN_DROPS=""
        perf_report "nic=$NIC memmode=$memmode batch=$batch rep=$rep status=fail"
        return
    fi
    case $memmode in iommu-4k) memory=4k ;; iommu-thp) memory=thp ;; esac
    if [ "$memory" != auto ]; then
        set_hugepages 0
        [ "$(free_hugepages)" = 0 ] ||
            echo "PERF-NOTE: $(free_hugepages) huge pages still free for the $memory run"
    fi
    [ -n "$UNSAFE" ] || UNSAFE_OR_MEMORY="--memory $memory"
    perf_safenic "$name" "$SECS" fwd "$NIC2" "$NIC3" --batch "$batch" $UNSAFE \
        $UNSAFE_OR_MEMORY || ok=0
    [ "$memory" = auto ] || set_hugepages "$HUGEPAGES"
    perf_sink_stop
    # "DMA memory: hugetlb 2 MiB pages, 26 MiB in 5 regions spanning 13 IOMMU
    # pages"; THP adds "(13 of 13 units huge)" after "pages".
    line=$(grep '^DMA memory' "$LOG_DIR/$name.log" | tail -1)
    page=$(echo "$line" | sed -n 's/^DMA memory: [A-Za-z]* *\([0-9]* [KMG]iB\) pages.*/\1/p' |
        tr -d ' ')
    kind=$(memory_kind "$name")
    pages=$(echo "$line" | sed -n 's/.* spanning \([0-9]*\) .*/\1/p')
    if grep -q 'warning: some DMA memory is in 4 KiB pages' "$LOG_DIR/$name.log"; then
        echo "PERF-INFO $name: safenic warned about 4 KiB pages"
    fi
    perf_report "nic=$NIC memmode=$memmode batch=$batch rep=$rep" \
        "status=$([ $ok = 1 ] && echo ok || echo fail) page=${page:-missing} memory=$kind" \
        "pages=${pages:-missing} delivered=${SINK_RX:-missing}"
}

perf_init
if have_iommu; then
    MEMMODES=$(param memmodes iommu-2m,iommu-4k | tr , ' ')
else
    MEMMODES=unsafe
    UNSAFE=--unsafe
fi
echo "perf-iommu: nic=$NIC memmodes=$MEMMODES batches=$BATCHES secs=$SECS reps=$REPS" \
     "hugepages=$HUGEPAGES"
SOURCE_PID="" SINK_PID=""
if perf_source_start "$NIC1" "$MAC4" $UNSAFE; then
    turn=0
    for rep in $(seq 1 "$REPS"); do
        for batch in $(echo "$BATCHES" | tr , ' '); do
            order=$MEMMODES
            [ $((turn % 2)) -eq 0 ] ||
                order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
            turn=$((turn + 1))
            for memmode in $order; do
                run_fwd "$memmode" "$batch" "$rep"
            done
        done
    done
    perf_stop_helpers
fi
[ "$PERF_RUNS" -gt 0 ] || PERF_FAILS=$((PERF_FAILS + 1))
echo "perf-iommu: $PERF_RUNS runs, $PERF_FAILS failures"
[ "$PERF_FAILS" -eq 0 ] && verdict perf-iommu "runs=$PERF_RUNS" ||
    { echo "VERDICT perf-iommu FAIL runs=$PERF_RUNS failures=$PERF_FAILS"; exit 1; }
