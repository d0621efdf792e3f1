#!/bin/sh
# perf-device-work: safenic and DPDK's testpmd take turns on the same NICs
# while QEMU traces what the device does (benchmarks/device-work.sh boots
# one guest per NIC model, counts QEMU's trace events and reads the
# PERF-RUN lines). chain4 with the contender's model on NIC2 and NIC3 and
# another model family on NIC1 and NIC4 (the helpers), so that the NIC
# models' own trace events, which do not say which NIC they come from,
# are the contender's alone:
#   NIC1 (helper) <-hub 0-> NIC2 (contender)
#   NIC3 (contender) <-hub 1-> NIC4 (helper)
# Modes, 60-byte frames (64 on the wire), the contender alone on CPU 1,
# the helpers on CPU 0 (as perf-vs-dpdk):
#   tx   the contender sends on NIC3 as fast as it can (safenic gen vs
#        testpmd txonly); testpmd rxonly takes the frames on NIC4.
#   rx   the contender receives on NIC2 (safenic recv --count-only vs
#        testpmd rxonly); safenic gen on NIC1 sends RATE frames a second
#        for SECS.
#   fwd  the contender forwards NIC2 <-> NIC3 (safenic fwd vs testpmd io);
#        the same source on NIC1, testpmd rxonly on NIC4.
# The source is paced (a rate both contenders keep up with under tracing)
# so that both handle the same frames; a transmitter can not be paced in
# testpmd, so in tx both send flat out.
#
# Phases: each run is one phase of the trace, between two reads of the
# host bridge's configuration space (00:00.0, offset 0xe0 to begin,
# 0xe4 to end: QEMU's pci_cfg_read event shows them; nothing else reads
# there). A phase starts once the contender is set up and polling (tx:
# a second into its sending) and ends before it is stopped, so its setup
# and teardown stay out; in rx and fwd the source sends only inside the
# phase and its last frames have landed (a second) before the end.
#
# Kernel command line knobs: safenic.perf_nic (label), safenic.modes
# (tx,rx,fwd), safenic.secs (5), safenic.rate (2000), safenic.reps (1),
# safenic.contenders (safenic,dpdk).
. /lib/safenic-bench/lib.sh
. /scenarios/perf-lib.sh

NIC=$(param perf_nic unknown)
MODES=$(param modes tx,rx,fwd)
SECS=$(param secs 5)
RATE=$(param rate 2000)
REPS=$(param reps 1)
CONTENDERS=$(param contenders safenic,dpdk)
PHASE=0

# mark OFFSET: one 4-byte read of the host bridge's configuration space.
mark() {
    dd if=/sys/bus/pci/devices/0000:00:00.0/config of=/dev/null bs=4 \
        skip=$(($1 / 4)) count=1 2> /dev/null
}

phase_begin() {
    PHASE=$((PHASE + 1))
    mark 0xe0
    PHASE_T0=$(now_cs)
}

phase_end() {
    mark 0xe4
    PHASE_CS=$(($(now_cs) - PHASE_T0))
}

# source NAME: safenic gen on NIC1 at RATE for SECS, on the helper CPU;
# sets OFFERED.
source_run() {
    OFFERED=missing
    start_bg "$1" taskset "$PERF_HELPER_CPU" safenic gen "$NIC1" --dst-mac "$MAC2" \
        --size "$PERF_SIZE" --rate "$RATE" --duration "$SECS"
    wait_exit "$BG_PID" $((SECS + 60)) "$1" || { perf_fail "source exited $?" "$1"; return 1; }
    OFFERED=$(summary_value "$1" gen tx_packets)
}

# run_one MODE CONTENDER REP
run_one() {
    local mode=$1 who=$2 rep=$3 name=$2-$1-$3 ok=1 sink="" phase=none
    SINK_RX="" OFFERED="" PHASE_CS=""
    RUN_PACKETS="" RUN_SECONDS="" RUN_PPS="" RUN_DROPS=""
    [ "$mode" = rx ] || sink=$NIC4
    if [ -n "$sink" ] && ! perf_dpdk_sink_start "sink-$name" "$sink"; then
        perf_report "nic=$NIC mode=$mode contender=$who rep=$rep status=fail"
        return
    fi
    case $who-$mode in
        safenic-tx)
            start_bg "$name" taskset "$PERF_MEASURED_CPU" safenic gen "$NIC3" \
                --size "$PERF_SIZE" --dst-mac "$MAC4"
            SAFENIC_PID=$BG_PID
            wait_running "$name" "$SAFENIC_PID" 60 || ok=0 ;;
        dpdk-tx) perf_testpmd_start "$name" txonly "$NIC3" || ok=0
                 sleep 1 ;;
        safenic-rx) perf_safenic_start "$name" recv "$NIC2" --idle-timeout 0 --count-only || ok=0 ;;
        safenic-fwd) perf_safenic_start "$name" fwd "$NIC2" "$NIC3" || ok=0 ;;
        dpdk-rx) perf_testpmd_start "$name" rxonly "$NIC2" || ok=0 ;;
        dpdk-fwd) perf_testpmd_start "$name" io "$NIC2" "$NIC3" || ok=0 ;;
        *) echo "perf-device-work: unknown contender '$who' or mode '$mode'"; ok=0 ;;
    esac
    if [ "$ok" = 1 ]; then
        phase_begin
        phase=$PHASE
        if [ "$mode" = tx ]; then
            sleep "$SECS"
        else
            source_run "src-$name" || ok=0
            sleep 1
        fi
        phase_end
    fi
    case $who-$mode in
        safenic-tx)
            stop_pid "$SAFENIC_PID" "$name" 5 > /dev/null || ok=0
            RUN_PACKETS=$(summary_value "$name" gen tx_packets)
            [ "$RUN_PACKETS" != missing ] || { perf_fail "safenic gen gave no count" "$name"; ok=0; } ;;
        safenic-*) [ "$ok" = 0 ] || perf_safenic_finish "$name" "$(echo "$mode" | sed 's/rx/recv/')" ||
                       ok=0 ;;
        dpdk-*) [ "$ok" = 0 ] ||
                    perf_testpmd_finish "$name" "$(case $mode in tx) echo txonly ;; rx) echo rxonly ;;
                                                   *) echo io ;; esac)" || ok=0 ;;
    esac
    [ -z "$sink" ] || perf_dpdk_sink_stop "sink-$name" || ok=0
    perf_report "nic=$NIC mode=$mode contender=$who rep=$rep phase=$phase" \
        "status=$([ $ok = 1 ] && echo ok || echo fail) delivered=${SINK_RX:-none}" \
        "offered=${OFFERED:-none} window=$(rate "${PHASE_CS:-0}" 100 s)"
}

perf_init
echo "perf-device-work: nic=$NIC modes=$MODES secs=$SECS rate=$RATE reps=$REPS" \
     "contenders=$CONTENDERS iommu=$(have_iommu && echo on || echo off)"

for mode in $(echo "$MODES" | tr , ' '); do
    case $mode in
        tx | rx | fwd) ;;
        *) echo "perf-device-work: unknown mode '$mode'"; PERF_FAILS=$((PERF_FAILS + 1)); continue ;;
    esac
    for rep in $(seq 1 "$REPS"); do
        order=$(echo "$CONTENDERS" | tr , ' ')
        [ $((rep % 2)) -eq 1 ] || order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
        for who in $order; do
            run_one "$mode" "$who" "$rep"
        done
    done
done
[ "$PERF_RUNS" -gt 0 ] || PERF_FAILS=$((PERF_FAILS + 1))
echo "perf-device-work: $PERF_RUNS runs, $PERF_FAILS failures"
[ "$PERF_FAILS" -eq 0 ] && verdict perf-device-work "runs=$PERF_RUNS" ||
    { echo "VERDICT perf-device-work FAIL runs=$PERF_RUNS failures=$PERF_FAILS"; exit 1; }
