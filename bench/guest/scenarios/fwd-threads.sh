#!/bin/sh
# fwd-threads: a multi-threaded forwarder, then an idle one that sleeps on
# its interrupts, in one boot of the chain4 topology
#   NIC1 (gen) <-hub 0-> NIC2 (fwd port A)   NIC3 (fwd port B) <-hub 1-> NIC4 (recv)
# with multi-queue NICs (e1000e: 2 queues, RSS).
#
# 1. threads: fwd --queues 2 (a worker thread per queue pair, poll mode)
#    forwards COUNT frames of FLOWS flows that gen sends (gen --flows);
#    RSS on NIC2 spreads the flows over its two receive queues. Passes
#    when every frame arrives once and intact (recv --expect: lost,
#    duplicated, corrupted 0; no reordering within a flow), fwd forwarded
#    COUNT, each queue pair forwarded a share, and the per-queue counts
#    add up to the total (fwd's workers and the devices' queue counters).
# 2. idle: fwd --queues 2 --mode adaptive, nothing sent for a while:
#    its CPU time from /proc/PID/stat (utime + stime) over CPU_WINDOW s
#    must stay under 2 % of one CPU. Then one frame: it must arrive, and
#    fwd must say that a frame's interrupt woke it (wakeups grew, not the
#    sleep's timeout). Then BURSTS bursts of BURST frames with IDLE s of
#    quiet between them (fwd falls asleep in each gap): every frame sent
#    arrives, fwd dropped none.
#
# Knobs: safenic.count (20000), safenic.rate (5000 pps), safenic.flows
# (64), safenic.queues (2), safenic.parts (threads,idle),
# safenic.cpu_window (5 s), safenic.bursts (3), safenic.burst (2000),
# safenic.idle (2 s).
. /lib/safenic-bench/lib.sh

NAME=fwd-threads
COUNT=$(param count 20000)
RATE=$(param rate 5000)
FLOWS=$(param flows 64)
QUEUES=$(param queues 2)
PARTS=$(param parts threads,idle)
CPU_WINDOW=$(param cpu_window 5)
BURSTS=$(param bursts 3)
BURST=$(param burst 2000)
IDLE=$(param idle 2)
READY_WAIT=30
GEN_LIMIT=$((COUNT / RATE * 2 + 60))
MAX_CPU_PERMILLE=20
NUMBERS=""
FWD_PID=""
RECV_PID=""

stop_all() {
    [ -n "$RECV_PID" ] && alive "$RECV_PID" && stop_pid "$RECV_PID" recv 5
    [ -n "$FWD_PID" ] && alive "$FWD_PID" && stop_pid "$FWD_PID" fwd 5
    return 0
}

# json_value LOG KEY: KEY's value in the last JSON Lines record of LOG.
json_value() {
    local value
    value=$(grep '^{' "$LOG_DIR/$1.log" 2>/dev/null | tail -1 |
        sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p")
    echo "${value:-missing}"
}

# wait_json LOG KEY MIN SECONDS PID: true once KEY in LOG's last record
# is >= MIN; false after SECONDS or when PID is gone.
wait_json() {
    local ticks=0 v
    while [ $ticks -lt $(($4 * 5)) ]; do
        v=$(json_value "$1" "$2")
        [ "$v" != missing ] && [ "$v" -ge "$3" ] && return 0
        alive "$5" || return 1
        sleep 0.2
        ticks=$((ticks + 1))
    done
    return 1
}

# cpu_ticks PID: utime + stime of PID, in clock ticks (fields 14 and 15 of
# /proc/PID/stat; the command name before them has no space here).
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# task_ticks PID: "TID:TICKS ..." for every thread of PID.
task_ticks() {
    local t
    for t in /proc/$1/task/*; do
        echo "${t##*/}:$(awk '{ print $14 + $15 }' "$t/stat")"
    done | tr '\n' ' '
}

# ge LABEL VALUE MIN: VALUE must be a number >= MIN.
ge() {
    case $2 in
        ''|*[!0-9]*) check "$1" "$2" ">= $3" ;;
        *) [ "$2" -ge "$3" ] || check "$1" "$2" ">= $3" ;;
    esac
}

part_threads() {
    local sent valid lost dup reord corrupt fwd_ab q sum_fwd=0 sum_rx=0 v
    start_bg recv1 safenic recv "$NIC4" --expect "$COUNT" \
        --idle-timeout 10
    RECV_PID=$BG_PID
    start_bg fwd1 safenic fwd "$NIC2" "$NIC3" --queues "$QUEUES"
    FWD_PID=$BG_PID
    if ! wait_running recv1 "$RECV_PID" "$READY_WAIT" ||
       ! wait_running fwd1 "$FWD_PID" "$READY_WAIT"; then
        check threads_started no yes
        stop_all
        return
    fi
    start_bg gen1 safenic gen "$NIC1" --count "$COUNT" --rate "$RATE" \
        --flows "$FLOWS" --src-mac "$MAC1" --dst-mac "$MAC4"
    wait_exit "$BG_PID" "$GEN_LIMIT" gen1
    check threads_gen_exit $? 0
    wait_exit "$RECV_PID" 40 recv1
    check threads_recv_exit $? 0
    RECV_PID=""
    stop_pid "$FWD_PID" fwd1 10
    check threads_fwd_exit $? 0
    FWD_PID=""
    sent=$(summary_value gen1 gen tx_packets)
    valid=$(summary_value recv1 recv valid)
    lost=$(summary_value recv1 recv lost)
    dup=$(summary_value recv1 recv duplicated)
    reord=$(summary_value recv1 recv reordered)
    corrupt=$(summary_value recv1 recv corrupted)
    fwd_ab=$(summary_value fwd1 fwd a_to_b)
    check threads_sent "$sent" "$COUNT"
    check threads_valid "$valid" "$COUNT"
    check threads_lost "$lost" 0
    check threads_duplicated "$dup" 0
    check threads_corrupted "$corrupt" 0
    check_order threads_reordered "$reord" "$(summary_value fwd1 fwd a_rx_starved)" \
        "$(summary_value recv1 recv rx_starved)"
    check threads_forwarded "$fwd_ab" "$COUNT"
    check threads_queues "$(summary_value fwd1 fwd queues)" "$QUEUES"
    NUMBERS="$NUMBERS forwarded=$fwd_ab per_queue="
    q=0
    while [ $q -lt "$QUEUES" ]; do
        v=$(summary_value fwd1 fwd "q${q}_a_to_b")
        ge "threads_q${q}_share" "$v" 1
        case $v in ''|*[!0-9]*) ;; *) sum_fwd=$((sum_fwd + v)) ;; esac
        v=$(summary_value fwd1 fwd "a_q${q}_rx_packets")
        case $v in ''|*[!0-9]*) ;; *) sum_rx=$((sum_rx + v)) ;; esac
        NUMBERS="$NUMBERS$(summary_value fwd1 fwd "q${q}_a_to_b"),"
        q=$((q + 1))
    done
    check threads_queue_sum "$sum_fwd" "$fwd_ab"
    check threads_rx_queue_sum "$sum_rx" "$fwd_ab"
    NUMBERS="${NUMBERS%,} valid=$valid lost=$lost"
}

part_idle() {
    local total=$((1 + BURSTS * BURST)) t0 t1 ticks permille w0 w1 i sleeps
    start_bg recv2 safenic recv "$NIC4" --count "$total" \
        --idle-timeout 0 --timeout 300 --json
    RECV_PID=$BG_PID
    start_bg fwd2 safenic fwd "$NIC2" "$NIC3" --queues "$QUEUES" --mode adaptive --json
    FWD_PID=$BG_PID
    if ! wait_json recv2 t 1 "$READY_WAIT" "$RECV_PID" ||
       ! wait_json fwd2 t 1 "$READY_WAIT" "$FWD_PID"; then
        check idle_started no yes
        stop_all
        return
    fi
    # Let it fall asleep, then measure a quiet spell.
    sleep 2
    t0=$(cpu_ticks "$FWD_PID")
    echo "idle fwd threads before: $(task_ticks "$FWD_PID")"
    sleep "$CPU_WINDOW"
    t1=$(cpu_ticks "$FWD_PID")
    echo "idle fwd threads after:  $(task_ticks "$FWD_PID")"
    ticks=$((t1 - t0))
    # Clock ticks are 1/100 s: permille of one CPU = ticks * 10 / seconds.
    permille=$((ticks * 10 / CPU_WINDOW))
    echo "idle fwd: $ticks ticks of CPU in $CPU_WINDOW s = $permille permille of a CPU"
    [ "$permille" -lt "$MAX_CPU_PERMILLE" ] ||
        check idle_cpu_permille "$permille" "< $MAX_CPU_PERMILLE"
    sleeps=$(json_value fwd2 sleeps)
    ge idle_slept "$sleeps" 1
    # The first frame after the quiet spell.
    w0=$(json_value fwd2 wakeups)
    start_bg gen2-1 safenic gen "$NIC1" --count 1 --src-mac "$MAC1" --dst-mac "$MAC4"
    wait_exit "$BG_PID" 30 gen2-1
    check idle_gen1_exit $? 0
    if wait_json fwd2 a_to_b 1 5 "$FWD_PID"; then
        check idle_first_frame yes yes
    else
        check idle_first_frame "not forwarded within 5 s" yes
    fi
    sleep 1
    w1=$(json_value fwd2 wakeups)
    case $w0$w1 in *missing*) check idle_woken missing number ;;
        *) ge idle_woken_by_frame $((w1 - w0)) 1 ;; esac
    i=1
    while [ $i -le "$BURSTS" ]; do
        sleep "$IDLE"
        start_bg "gen2-b$i" safenic gen "$NIC1" --count "$BURST" --rate "$RATE" \
            --src-mac "$MAC1" --dst-mac "$MAC4"
        wait_exit "$BG_PID" "$GEN_LIMIT" "gen2-b$i"
        check "idle_gen_b${i}_exit" $? 0
        i=$((i + 1))
    done
    wait_exit "$RECV_PID" 30 recv2
    check idle_recv_exit $? 0
    RECV_PID=""
    stop_pid "$FWD_PID" fwd2 10
    check idle_fwd_exit $? 0
    FWD_PID=""
    check idle_received "$(summary_value recv2 recv rx_packets)" "$total"
    check idle_corrupted "$(summary_value recv2 recv corrupted)" 0
    check idle_forwarded "$(summary_value fwd2 fwd a_to_b)" "$total"
    check idle_drops "$(summary_value fwd2 fwd drops)" 0
    ge idle_wakeups "$(summary_value fwd2 fwd wakeups)" $((BURSTS + 1))
    NUMBERS="$NUMBERS idle_cpu_permille=$permille sleeps=$(summary_value fwd2 fwd sleeps)"
    NUMBERS="$NUMBERS wakeups=$(summary_value fwd2 fwd wakeups) idle_received=$(summary_value recv2 recv rx_packets)/$total"
}

case ",$PARTS," in *,threads,*) part_threads ;; esac
case ",$PARTS," in *,idle,*) part_idle ;; esac
stop_all
for log in fwd1 recv1 gen1 fwd2 recv2 gen2-1 gen2-b1; do
    [ -f "$LOG_DIR/$log.log" ] && show_log "$log" | grep -v '^\[[^]]*\] {' | tail -40
done
verdict "$NAME" $NUMBERS
