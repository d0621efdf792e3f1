#!/bin/sh
# perf-scale: safenic fwd against its number of queue pairs (threads), and
# its CPU time per frame in each --mode at a few offered loads
# (benchmarks/scale.sh boots the guest and reads the PERF-RUN lines).
# Wiring (chain4):
#   safenic gen NIC1 --flows 64 -> hub -> NIC2 [safenic fwd] NIC3 -> hub -> NIC4 safenic recv
# The source and the sink run on CPU 0. A lone forwarder runs on CPU 1
# (--cores 1, as in the other perf scenarios); with several queue pairs
# fwd's threads go where its --cores default puts them (thread q on CPU
# q mod 2, so one shares CPU 0 with the source and the sink), its main
# thread unpinned.
#
# safenic.sweep selects the measurements (comma-separated):
#   queues   fwd --queues Q for Q in safenic.queue_list (1,2,4), poll
#            mode, the source as fast as it can; one run each per rep:
#            kind=queues queues=Q pps=...
#   modes    fwd --mode M for M in poll,interrupt,adaptive, one queue
#            pair, at each offered load of safenic.loads (pps, 0 = as fast
#            as the source can; default 1000,10000,0):
#            kind=modes mode=M load=L pps=... cpu_seconds=... us_per_frame=...
#            CPU time is fwd's own (getrusage, all threads: its
#            SUMMARY's cpu_seconds); us_per_frame = cpu_seconds / forwarded.
# Knobs: safenic.secs (4), safenic.reps (1), safenic.perf_nic (label).
. /lib/safenic-bench/lib.sh
. /scenarios/perf-lib.sh

NIC=$(param perf_nic unknown)
SWEEP=$(param sweep queues,modes)
QUEUE_LIST=$(param queue_list 1,2,4)
LOADS=$(param loads 1000,10000,0)
MODES=$(param modes poll,interrupt,adaptive)
SECS=$(param secs 4)
REPS=$(param reps 1)
FLOWS=64

# source_start RATE: gen with FLOWS flows at RATE pps (0: flat out).
source_start() {
    local rate_arg=""
    [ "$1" = 0 ] || rate_arg="--rate $1"
    # shellcheck disable=SC2086
    start_bg source taskset "$PERF_HELPER_CPU" safenic gen "$NIC1" --dst-mac "$MAC4" \
        --size "$PERF_SIZE" --flows "$FLOWS" $rate_arg
    SOURCE_PID=$BG_PID
    if ! wait_running source "$SOURCE_PID" 30; then
        perf_fail "traffic source on $NIC1 did not start" source
        stop_pid "$SOURCE_PID" source 5 > /dev/null
        SOURCE_PID=""
        return 1
    fi
}

# run_fwd NAME ARGS...: fwd for SECS with the sink counting; sets
# RUN_* (perf_safenic) and CPU_S, SLEEPS.
run_fwd() {
    local name=$1
    shift
    SINK_RX=""
    perf_sink_start "$NIC4" || return 1
    # The shell is pinned to CPU 0 (perf_init) and its children inherit
    # that: give fwd both CPUs, for its --cores default to spread over.
    start_bg "$name" taskset 3 safenic fwd "$NIC2" "$NIC3" "$@" --duration "$SECS"
    wait_exit "$BG_PID" $((SECS + 60)) "$name"
    RUN_RC=$?
    perf_sink_stop
    RUN_PACKETS=$(summary_value "$name" fwd a_to_b)
    RUN_SECONDS=$(summary_value "$name" fwd seconds)
    RUN_PPS=$(summary_value "$name" fwd pps)
    RUN_DROPS=$(summary_value "$name" fwd drops)
    CPU_S=$(summary_value "$name" fwd cpu_seconds)
    SLEEPS=$(summary_value "$name" fwd sleeps)
    if [ "$RUN_RC" -ne 0 ] || [ "$RUN_PACKETS" = missing ]; then
        perf_fail "safenic fwd exited $RUN_RC (packets=$RUN_PACKETS)" "$name"
        return 1
    fi
}

sweep_queues() {
    local rep q ok cores
    for rep in $(seq 1 "$REPS"); do
        for q in $(echo "$QUEUE_LIST" | tr , ' '); do
            source_start 0 || { perf_report "kind=queues queues=$q rep=$rep status=fail"; continue; }
            ok=ok
            cores=""
            [ "$q" != 1 ] || cores="--cores 1"
            # shellcheck disable=SC2086
            run_fwd "fwd-q$q-$rep" --queues "$q" --mode poll $cores || ok=fail
            perf_source_stop
            perf_report "kind=queues nic=$NIC queues=$q rep=$rep status=$ok" \
                "cpu_seconds=$CPU_S delivered=${SINK_RX:-missing}"
        done
    done
}

sweep_modes() {
    local rep load mode ok us
    for rep in $(seq 1 "$REPS"); do
        for load in $(echo "$LOADS" | tr , ' '); do
            source_start "$load" || continue
            for mode in $(echo "$MODES" | tr , ' '); do
                ok=ok
                run_fwd "fwd-$mode-$load-$rep" --mode "$mode" --cores 1 || ok=fail
                us=$(awk -v c="$CPU_S" -v n="$RUN_PACKETS" 'BEGIN {
                    if (n + 0 > 0) printf "%.2f", c * 1e6 / n; else print "inf" }')
                perf_report "kind=modes nic=$NIC mode=$mode load=$load rep=$rep status=$ok" \
                    "cpu_seconds=$CPU_S us_per_frame=$us sleeps=$SLEEPS delivered=${SINK_RX:-missing}"
            done
            perf_source_stop
        done
    done
}

perf_init
echo "perf-scale: nic=$NIC sweep=$SWEEP queues=$QUEUE_LIST modes=$MODES loads=$LOADS" \
     "secs=$SECS reps=$REPS cpus=$(nproc)"
SOURCE_PID="" SINK_PID=""
case ",$SWEEP," in *,queues,*) sweep_queues ;; esac
case ",$SWEEP," in *,modes,*) sweep_modes ;; esac
perf_stop_helpers
[ "$PERF_RUNS" -gt 0 ] || PERF_FAILS=$((PERF_FAILS + 1))
echo "perf-scale: $PERF_RUNS runs, $PERF_FAILS failures"
[ "$PERF_FAILS" -eq 0 ] && verdict perf-scale "runs=$PERF_RUNS" ||
    { echo "VERDICT perf-scale FAIL runs=$PERF_RUNS failures=$PERF_FAILS"; exit 1; }
