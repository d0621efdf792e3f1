#!/bin/sh
# Helpers for the perf-* scenarios (the guest benchmarks in benchmarks/),
# sourced after /lib/safenic-bench/lib.sh. Not a scenario itself.
#
# CPUs: the guest has two. The measured program (safenic, or testpmd's
# forwarding lcore) runs alone on CPU 1; the scenario's shell, the traffic
# source, the sink and testpmd's main lcore (which only reads commands)
# share CPU 0. Every program is pinned, so both contenders get the same
# placement.
#
# Lines for the host (benchmarks/*.sh read them from the console):
#   PERF-RUN key=value...   one measured run; status=ok or status=fail
#   PERF-INFO text          what a program said about itself (memory, IOVA)
if [ "$(basename "$0")" = perf-lib.sh ]; then
    echo "perf-lib.sh holds helpers for the perf-* scenarios; it is not one"
    echo "VERDICT perf-lib FAIL not-a-scenario"
    exit 1
fi

PERF_HELPER_CPU=1      # taskset mask: CPU 0
PERF_MEASURED_CPU=2    # taskset mask: CPU 1
PERF_SIZE=60           # frame length without FCS: 64 bytes on the wire
PERF_FAILS=0
PERF_RUNS=0

# perf_init: pin this shell, and prepare what DPDK's EAL needs: it refuses
# to load plugins below a world-writable directory (the initramfs root is
# 0777) and wants /var/run even with --in-memory.
perf_init() {
    taskset -p "$PERF_HELPER_CPU" $$ > /dev/null
    chmod 755 /
    mkdir -p /var/run "$LOG_DIR"
    export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
    # A testpmd that dies must not take the shell with it through its
    # command pipe.
    trap '' PIPE
}

# now_cs: guest uptime in hundredths of a second. The shell's own read:
# a fork costs tens of milliseconds under TCG. (/proc/uptime has two
# decimals, and the guest has been up for more than a second.)
now_cs() {
    local up rest
    read -r up rest < /proc/uptime
    echo "${up%.*}${up#*.}"
}

# rate COUNT CENTISECONDS | rate COUNT SECONDS s: packets per second, one decimal.
rate() {
    awk -v n="$1" -v t="$2" -v unit="${3:-cs}" 'BEGIN {
        if (unit == "cs") t = t / 100
        printf "%.1f\n", (t > 0 ? n / t : 0) }'
}

# perf_fail WHAT LOG: count a failed run and show the end of its log.
perf_fail() {
    PERF_FAILS=$((PERF_FAILS + 1))
    echo "PERF-FAILED: $1"
    tail -25 "$LOG_DIR/$2.log" 2>/dev/null | sed "s/^/[$2] /"
}

# --- source and sink: the same for both contenders ----------------------

# perf_source_start DEV DST_MAC [--unsafe]: safenic gen, as fast as it
# can, until perf_source_stop. False when it did not come up.
perf_source_start() {
    start_bg source taskset "$PERF_HELPER_CPU" safenic gen "$1" --dst-mac "$2" \
        --size "$PERF_SIZE" $3
    SOURCE_PID=$BG_PID
    if ! wait_running source "$SOURCE_PID" 30; then
        perf_fail "traffic source on $1 did not start" source
        stop_pid "$SOURCE_PID" source 5 > /dev/null
        SOURCE_PID=""
        return 1
    fi
}

perf_source_stop() {
    [ -n "$SOURCE_PID" ] || return 0
    stop_pid "$SOURCE_PID" source 5 > /dev/null
    SOURCE_PID=""
    echo "PERF-INFO source: $(grep '^SUMMARY gen' "$LOG_DIR/source.log" | tail -1)"
}

# perf_sink_start DEV [--unsafe]: safenic recv counting, until
# perf_sink_stop, which sets SINK_RX (frames it received).
perf_sink_start() {
    start_bg sink taskset "$PERF_HELPER_CPU" safenic recv "$1" --idle-timeout 0 $2
    SINK_PID=$BG_PID
    if ! wait_running sink "$SINK_PID" 30; then
        perf_fail "sink on $1 did not start" sink
        stop_pid "$SINK_PID" sink 5 > /dev/null
        SINK_PID=""
        return 1
    fi
}

perf_sink_stop() {
    SINK_RX=missing
    [ -n "$SINK_PID" ] || return 0
    stop_pid "$SINK_PID" sink 5 > /dev/null
    SINK_PID=""
    SINK_RX=$(summary_value sink recv rx_packets)
}

perf_stop_helpers() {
    [ -z "$SINK_PID" ] || perf_sink_stop
    perf_source_stop
}

# --- the contenders ------------------------------------------------------

# perf_safenic NAME SECONDS CMD ARGS...: run `safenic CMD ARGS` pinned to
# the measured CPU for --duration SECONDS. Sets RUN_PACKETS, RUN_SECONDS
# (safenic's own clock, from the first poll to the end of the loop),
# RUN_PPS, RUN_DROPS; false when it failed. The DMA memory line goes out
# as PERF-INFO.
perf_safenic() {
    local name=$1 secs=$2 cmd=$3 rc kind key drops_key
    shift 3
    RUN_PACKETS="" RUN_SECONDS="" RUN_PPS="" RUN_DROPS=""
    start_bg "$name" taskset "$PERF_MEASURED_CPU" safenic "$cmd" "$@" --duration "$secs"
    wait_exit "$BG_PID" $((secs + 60)) "$name"
    rc=$?
    case $cmd in
        gen) kind=gen key=tx_packets drops_key=tx_drops ;;
        recv) kind=recv key=rx_packets drops_key=rx_drops ;;
        fwd) kind=fwd key=a_to_b drops_key=drops ;;
    esac
    RUN_PACKETS=$(summary_value "$name" "$kind" "$key")
    RUN_SECONDS=$(summary_value "$name" "$kind" seconds)
    RUN_PPS=$(summary_value "$name" "$kind" pps)
    RUN_DROPS=$(summary_value "$name" "$kind" "$drops_key")
    echo "PERF-INFO $name: $(grep '^DMA memory' "$LOG_DIR/$name.log" | tail -1)"
    if [ "$rc" -ne 0 ] || [ "$RUN_PACKETS" = missing ] || [ "$RUN_PPS" = missing ]; then
        perf_fail "safenic $cmd exited $rc (packets=$RUN_PACKETS)" "$name"
        return 1
    fi
}

# perf_tp_start NAME FD CPUS FWD_MODE DEV...: DPDK's testpmd on DEV...,
# interactive, its commands written into a FIFO held open on FD; once it
# is ready (prompt), "start". CPUS: its EAL core option, two lcores (the
# main one, which only reads commands, and one that forwards). Sets T0
# (guest uptime in 1/100 s, just after "start"); false when it did not
# come up.
# perf_tp_finish NAME FD FWD_MODE: "stop", which prints the counts of the
# forwarding engine since "start", and "quit". Sets T1 (just after
# "stop"), TP_PACKETS (frames received for rxonly, transmitted otherwise)
# and TP_DROPS (TX-dropped: frames a full transmit ring refused); false
# when there are no counts.
#
# EAL: devices by -a only; memory from huge pages without files
# (--in-memory: several testpmd can run at once); IOVA = VA through VFIO
# and the IOMMU. testpmd: packets of PERF_SIZE bytes, bursts of 32, rings
# of 512 (safenic's default; virtio takes the device's size), promiscuous
# (its default).
perf_tp_start() {
    local name=$1 fd=$2 cpus=$3 mode=$4 fifo allow="" dev launch pid
    shift 4
    for dev in "$@"; do
        allow="$allow -a $dev"
    done
    fifo=$LOG_DIR/$name.cmd
    rm -f "$fifo"
    mkfifo "$fifo"
    # shellcheck disable=SC2086  # one word per option
    set -- dpdk-testpmd $cpus -n 1 --in-memory --no-telemetry -m 128 --iova-mode=va \
        $allow -- -i --forward-mode="$mode" --txpkts="$PERF_SIZE" --burst=32 \
        --rxd=512 --txd=512 --total-num-mbufs=8192 --nb-cores=1
    echo "+ $*" > "$LOG_DIR/$name.log"
    launch=$(now_cs)
    "$@" < "$fifo" >> "$LOG_DIR/$name.log" 2>&1 &
    pid=$!
    eval "TP_PID_$fd=$pid"
    eval "exec $fd> \"\$fifo\""
    if ! wait_prompt "$name" "$pid" 60; then
        eval "exec $fd>&-"
        stop_pid "$pid" "$name" 5 > /dev/null
        perf_fail "testpmd did not reach its prompt" "$name"
        return 1
    fi
    echo start >&"$fd"
    T0=$(now_cs)
    echo "PERF-INFO $name: ready after $(rate $((T0 - launch)) 100 s) s;" \
         "$(grep -m1 'Selected IOVA mode' "$LOG_DIR/$name.log")"
}

perf_tp_finish() {
    local name=$1 fd=$2 mode=$3 rc stats pid
    eval "pid=\$TP_PID_$fd"
    echo stop >&"$fd"
    T1=$(now_cs)
    # testpmd's stdout is a file, so fully buffered: the counts of "stop"
    # show up only when it exits. It runs the commands in order.
    echo quit >&"$fd"
    eval "exec $fd>&-"
    wait_exit "$pid" 60 "$name" 5
    rc=$?
    stats=$(sed -n '/Accumulated forward statistics/,/+++++++++++*$/p' "$LOG_DIR/$name.log")
    case $mode in
        rxonly) TP_PACKETS=$(echo "$stats" | awk '/RX-packets:/ { print $2; exit }') ;;
        *) TP_PACKETS=$(echo "$stats" | awk '/TX-packets:/ { print $2; exit }') ;;
    esac
    TP_DROPS=$(echo "$stats" | awk '/TX-packets:/ { print $4; exit }')
    if [ -z "$TP_PACKETS" ]; then
        TP_PACKETS=missing
        perf_fail "testpmd printed no forward statistics (exit $rc)" "$name"
        return 1
    fi
    [ "$rc" -eq 0 ] || echo "PERF-NOTE: $name exited $rc after printing its counts"
}

# The measured testpmd: main lcore on CPU 0, the forwarding one on CPU 1,
# its commands on fd 3. Set RUN_PACKETS and RUN_DROPS.
perf_testpmd_start() {
    local name=$1 mode=$2
    shift 2
    RUN_PACKETS="" RUN_SECONDS="" RUN_PPS="" RUN_DROPS=""
    perf_tp_start "$name" 3 "-l 0,1" "$mode" "$@"
}

perf_testpmd_finish() {
    perf_tp_finish "$1" 3 "$2" || { RUN_PACKETS=missing; return 1; }
    RUN_PACKETS=$TP_PACKETS RUN_DROPS=$TP_DROPS
}

# --- DPDK helpers: they treat every frame alike, whoever sent it --------

# perf_dpdk_sink_start NAME DEV: testpmd rxonly, both lcores on CPU 0,
# until perf_dpdk_sink_stop NAME, which sets SINK_RX (frames received).
perf_dpdk_sink_start() {
    perf_tp_start "$1" 4 "--lcores 0@0,1@0" rxonly "$2"
}

perf_dpdk_sink_stop() {
    SINK_RX=missing
    perf_tp_finish "$1" 4 rxonly || return 1
    SINK_RX=$TP_PACKETS
}

# perf_dpdk_offer NAME DEV SECONDS: the traffic source of rx and fwd runs:
# testpmd txonly, both lcores on CPU 0, for SECONDS. Sets OFFERED (frames
# sent) and OFFER_SECONDS (from "start" to "stop", timed here).
perf_dpdk_offer() {
    OFFERED=missing OFFER_SECONDS=missing
    perf_tp_start "$1" 5 "--lcores 0@0,1@0" txonly "$2" || return 1
    sleep "$3"
    perf_tp_finish "$1" 5 txonly || return 1
    OFFERED=$TP_PACKETS
    OFFER_SECONDS=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f\n", (b - a) / 100 }')
}

# perf_testpmd NAME SECONDS FWD_MODE DEV...: testpmd forwarding for
# SECONDS; the time is taken here, around "start" and "stop" (guest
# uptime, 10 ms steps). Sets RUN_PACKETS, RUN_SECONDS, RUN_PPS, RUN_DROPS.
perf_testpmd() {
    local name=$1 secs=$2 mode=$3
    shift 3
    perf_testpmd_start "$name" "$mode" "$@" || return 1
    sleep "$secs"
    perf_testpmd_finish "$name" "$mode" || return 1
    RUN_SECONDS=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f\n", (b - a) / 100 }')
    RUN_PPS=$(rate "$RUN_PACKETS" $((T1 - T0)))
}

# perf_safenic_start NAME CMD ARGS...: `safenic CMD ARGS` pinned to the
# measured CPU, until perf_safenic_finish NAME CMD (SIGINT), which sets
# RUN_PACKETS (rx_packets for recv, a_to_b for fwd) and RUN_DROPS.
perf_safenic_start() {
    local name=$1 cmd=$2
    shift 2
    RUN_PACKETS="" RUN_SECONDS="" RUN_PPS="" RUN_DROPS=""
    start_bg "$name" taskset "$PERF_MEASURED_CPU" safenic "$cmd" "$@"
    SAFENIC_PID=$BG_PID
    if ! wait_running "$name" "$SAFENIC_PID" 30; then
        stop_pid "$SAFENIC_PID" "$name" 5 > /dev/null
        perf_fail "safenic $cmd did not start" "$name"
        return 1
    fi
    echo "PERF-INFO $name: $(grep '^DMA memory' "$LOG_DIR/$name.log" | tail -1)"
}

perf_safenic_finish() {
    local name=$1 cmd=$2 rc
    stop_pid "$SAFENIC_PID" "$name" 5 > /dev/null
    rc=$?
    case $cmd in
        recv) RUN_PACKETS=$(summary_value "$name" recv rx_packets)
              RUN_DROPS=$(summary_value "$name" recv rx_drops) ;;
        fwd) RUN_PACKETS=$(summary_value "$name" fwd a_to_b)
             RUN_DROPS=$(summary_value "$name" fwd drops) ;;
    esac
    if [ "$rc" -ne 0 ] || [ "$RUN_PACKETS" = missing ]; then
        perf_fail "safenic $cmd exited $rc (packets=$RUN_PACKETS)" "$name"
        return 1
    fi
}

# wait_prompt NAME PID SECONDS: true once testpmd's log shows its prompt.
wait_prompt() {
    local ticks=0
    while [ $ticks -lt $(($3 * 5)) ]; do
        grep -q 'testpmd> ' "$LOG_DIR/$1.log" 2>/dev/null && return 0
        alive "$2" || return 1
        sleep 0.2
        ticks=$((ticks + 1))
    done
    return 1
}

# perf_report KEY=VALUE...: one PERF-RUN line with the run's numbers.
perf_report() {
    PERF_RUNS=$((PERF_RUNS + 1))
    echo "PERF-RUN $* packets=${RUN_PACKETS:-missing} seconds=${RUN_SECONDS:-missing}" \
         "pps=${RUN_PPS:-missing} drops=${RUN_DROPS:-missing}"
}
