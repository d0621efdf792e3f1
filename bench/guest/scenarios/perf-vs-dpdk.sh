#!/bin/sh
# perf-vs-dpdk: safenic against DPDK's testpmd on the same emulated NICs,
# in turn, on the chain4 topology (benchmarks/vs-dpdk.sh boots one guest
# per NIC model and reads the PERF-RUN lines):
#   NIC1 <-hub 0-> NIC2      NIC3 <-hub 1-> NIC4
# Modes, 60-byte frames (64 on the wire), the contender pinned alone to
# CPU 1. The helpers are DPDK's testpmd on CPU 0, both of their lcores
# there, the same for both contenders: a sink (rxonly) treats every frame
# alike, whoever made it, and the source's frames (txonly) are not
# safenic test frames; safenic recv runs with --count-only, reading none
# of them, as rxonly does.
#   tx   the contender sends on NIC1 as fast as it can for SECS: safenic
#        gen vs testpmd txonly; the sink takes the frames on NIC2. Rate:
#        the contender's count over its own sending time (safenic: its
#        SUMMARY; testpmd: "start" to "stop", timed here).
#   rx   the contender receives on NIC2: safenic recv --count-only vs
#        testpmd rxonly. Once it polls, the source sends on NIC1 as fast
#        as it can for SECS; a second later the contender is stopped.
#        Rate: frames the contender received over the source's sending
#        time.
#   fwd  the contender forwards NIC2 <-> NIC3: safenic fwd vs testpmd io;
#        the same source on NIC1, the sink on NIC4. Rate: frames the
#        contender forwarded over the source's sending time.
# A NIC no program drives is never on the sending side of a hub: QEMU's
# virtio-net stops transmitting into a hub port that cannot deliver (and
# safenic gen then stops with "transmit made no progress"). So the sinks
# start before the contender, the source after it.
# The sink reports what it got as delivered=, the source as offered=.
# Each rep runs safenic and testpmd back to back, safenic first in odd
# reps and testpmd first in even ones, so a drift hits both alike (with a
# baseline, the order rotates: each contender takes each place in turn).
#
# A third contender, "baseline", is another safenic build
# (/usr/bin/safenic-baseline, put there by vs-dpdk.sh --baseline), run as
# safenic is, so a change is measured against the old code in one boot.
#
# Kernel command line knobs: safenic.perf_nic (label for the lines),
# safenic.modes (tx,rx,fwd), safenic.reps (3), safenic.secs (8),
# safenic.contenders (safenic,dpdk; or safenic,baseline,dpdk).
. /lib/safenic-bench/lib.sh
. /scenarios/perf-lib.sh

NIC=$(param perf_nic unknown)
MODES=$(param modes tx,rx,fwd)
REPS=$(param reps 3)
SECS=$(param secs 8)
CONTENDERS=$(param contenders safenic,dpdk)
# The baseline answers to the name safenic from a directory first in PATH.
BASELINE_DIR=/tmp/baseline-bin
BASE_PATH=$PATH
if [ -x /usr/bin/safenic-baseline ]; then
    mkdir -p "$BASELINE_DIR" && ln -sf /usr/bin/safenic-baseline "$BASELINE_DIR/safenic"
fi

# run_one MODE CONTENDER REP
run_one() {
    local mode=$1 who=$2 rep=$3 name=$2-$1-$3 ok=1 w0 sink kind=$2
    PATH=$BASE_PATH
    if [ "$who" = baseline ]; then
        kind=safenic
        if [ -x "$BASELINE_DIR/safenic" ]; then
            PATH=$BASELINE_DIR:$BASE_PATH
        else
            echo "perf-vs-dpdk: no /usr/bin/safenic-baseline in the image"; ok=0
        fi
    fi
    w0=$(now_cs)
    SINK_RX="" OFFERED="" OFFER_SECONDS=""
    case $mode in
        tx) sink=$NIC2 ;;
        rx) sink="" ;;
        fwd) sink=$NIC4 ;;
    esac
    if [ -n "$sink" ] && ! perf_dpdk_sink_start "sink-$name" "$sink"; then
        RUN_PACKETS="" RUN_SECONDS="" RUN_PPS="" RUN_DROPS=""
        perf_report "nic=$NIC mode=$mode contender=$who rep=$rep status=fail"
        return
    fi
    [ "$ok" = 1 ] || kind=none
    case $kind-$mode in
        safenic-tx) perf_safenic "$name" "$SECS" gen "$NIC1" --size "$PERF_SIZE" \
                        --dst-mac "$MAC2" || ok=0 ;;
        dpdk-tx) perf_testpmd "$name" "$SECS" txonly "$NIC1" || ok=0 ;;
        safenic-rx) perf_safenic_start "$name" recv "$NIC2" --idle-timeout 0 --count-only || ok=0 ;;
        safenic-fwd) perf_safenic_start "$name" fwd "$NIC2" "$NIC3" || ok=0 ;;
        dpdk-rx) perf_testpmd_start "$name" rxonly "$NIC2" || ok=0 ;;
        dpdk-fwd) perf_testpmd_start "$name" io "$NIC2" "$NIC3" || ok=0 ;;
        *) echo "perf-vs-dpdk: unknown contender '$who' or mode '$mode'"; ok=0 ;;
    esac
    if [ "$mode" != tx ] && [ "$ok" = 1 ]; then
        # The source's frames only: it starts once the contender polls, and
        # the contender stops a second after the source, when the frames
        # still in flight have landed.
        perf_dpdk_offer "offer-$name" "$NIC1" "$SECS" || ok=0
        sleep 1
        case $kind in
            safenic) perf_safenic_finish "$name" "$(echo "$mode" | sed 's/rx/recv/')" || ok=0 ;;
            dpdk) perf_testpmd_finish "$name" "$([ "$mode" = rx ] && echo rxonly || echo io)" ||
                      ok=0 ;;
        esac
        if [ "$ok" = 1 ]; then
            RUN_SECONDS=$OFFER_SECONDS
            RUN_PPS=$(rate "$RUN_PACKETS" "$OFFER_SECONDS" s)
        fi
    fi
    [ -z "$sink" ] || perf_dpdk_sink_stop "sink-$name" || ok=0
    PATH=$BASE_PATH
    perf_report "nic=$NIC mode=$mode contender=$who rep=$rep" \
        "status=$([ $ok = 1 ] && echo ok || echo fail) delivered=${SINK_RX:-none}" \
        "offered=${OFFERED:-none} wall=$(rate $(($(now_cs) - w0)) 100 s)"
}

perf_init
echo "perf-vs-dpdk: nic=$NIC modes=$MODES reps=$REPS secs=$SECS contenders=$CONTENDERS" \
     "hugepages=$(cat /proc/sys/vm/nr_hugepages) iommu=$(have_iommu && echo on || echo off)"

for mode in $(echo "$MODES" | tr , ' '); do
    case $mode in
        tx | rx | fwd) ;;
        *) echo "perf-vs-dpdk: unknown mode '$mode'"; PERF_FAILS=$((PERF_FAILS + 1)); continue ;;
    esac
    for rep in $(seq 1 "$REPS"); do
        # The order rotates by one each rep: with two contenders it
        # alternates; with three, each takes each place in turn (reversing
        # would keep the middle one in the middle).
        order=$(echo "$CONTENDERS" | tr , ' ' |
            awk -v r="$rep" '{ for (i = 0; i < NF; i++) printf "%s ", $((i + r - 1) % NF + 1) }')
        for who in $order; do
            run_one "$mode" "$who" "$rep"
        done
    done
done
[ "$PERF_RUNS" -gt 0 ] || PERF_FAILS=$((PERF_FAILS + 1))
echo "perf-vs-dpdk: $PERF_RUNS runs, $PERF_FAILS failures"
[ "$PERF_FAILS" -eq 0 ] && verdict perf-vs-dpdk "runs=$PERF_RUNS" ||
    { echo "VERDICT perf-vs-dpdk FAIL runs=$PERF_RUNS failures=$PERF_FAILS"; exit 1; }
