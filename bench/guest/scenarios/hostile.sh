#!/bin/sh
# hostile: a lying device against a running forwarder (issue 9, item 4).
# On the chain4 topology, gen NIC1 -> fwd NIC2/NIC3 -> recv NIC4, while
# the guest program safenic-hostile (bench/guest/programs/hostile.c)
# writes random bytes into fwd's DMA memory where the device may write
# (Intel: descriptor write-back fields; virtio: used rings; both: packet
# buffers), at safenic.writes per second for safenic.seconds seconds.
#
#   1. fwd and recv start; safenic-hostile attaches to fwd and tells its
#      regions apart before any traffic; gen starts at once and sends at
#      safenic.rate through the lies, which begin safenic.delay seconds
#      after the attach (gen takes a second or two to come up).
#   2. The lies stop. If fwd still runs, a fresh receiver expects
#      safenic.after frames from a fresh generator: does fwd forward again?
#   3. fwd is stopped with SIGINT (if it has not stopped itself).
#
# Must always hold (checked): safenic-hostile attached and wrote; fwd did
# not crash (no signal) and did not hang (SIGINT stopped it, or it had
# exited by itself with status 1 and a message); its SUMMARY counts the
# damage (device_errors > 0); run-scenarios.sh requires DMAR-FAULTS: 0,
# i.e. the NIC's DMA stayed inside memory safenic mapped for it. gen's
# exit status is recorded, not judged: when fwd stops, gen's NIC (cabled
# to fwd's) stops sending and gen rightly reports a transmit stall.
# Recorded in the verdict (after=): whether fwd forwarded again after the
# lies, or stopped with a message, or neither: a silent stall, printed as
# FINDING, which fails the case only with safenic.strict=1 (until the
# liveness checks of issue 9 item 3 detect it).
. /lib/safenic-bench/lib.sh

NAME=hostile
RATE=$(param rate 2000)
DELAY=$(param delay 3)
LIE_SECONDS=$(param seconds 4)
WRITES=$(param writes 50000)
AFTER=$(param after 1000)
STRICT=$(param strict 0)
READY_WAIT=$(param ready_wait 30)
COUNT=$((RATE * (DELAY + LIE_SECONDS)))
KIND=virtio
[ -z "$(intel_driver "$NIC2")" ] || KIND=intel
echo "$NAME: kind=$KIND rate=$RATE count=$COUNT lies=${LIE_SECONDS}s at $WRITES/s" \
     "after=$AFTER hugepages=$(cat /proc/sys/vm/nr_hugepages)"

stop_if_alive() { # PID NAME
    [ -z "$1" ] || ! alive "$1" || stop_pid "$1" "$2" 5 > /dev/null
}

start_bg recv safenic recv "$NIC4"
RECV_PID=$BG_PID
start_bg fwd safenic fwd "$NIC2" "$NIC3"
FWD_PID=$BG_PID
if ! wait_running recv "$RECV_PID" "$READY_WAIT" ||
   ! wait_running fwd "$FWD_PID" "$READY_WAIT"; then
    stop_if_alive "$RECV_PID" recv
    stop_if_alive "$FWD_PID" fwd
    show_log fwd
    show_log recv
    check startup failed ok
    verdict "$NAME" "kind=$KIND startup-failed"
    exit 1
fi

# 1. Lies while traffic runs.
start_bg hostile safenic-hostile "$FWD_PID" "$KIND" --delay "$DELAY" \
    --seconds "$LIE_SECONDS" --rate "$WRITES"
HOSTILE_PID=$BG_PID
wait_for_line "$LOG_DIR/hostile.log" '^HOSTILE(: seed|-RESULT)' 10 || true
echo "$NAME: safenic-hostile attached to fwd (pid $FWD_PID); gen starts"
start_bg gen safenic gen "$NIC1" --count "$COUNT" --rate "$RATE" \
    --src-mac "$MAC1" --dst-mac "$MAC4"
wait_exit "$BG_PID" $((COUNT / RATE * 2 + 30)) gen
GEN_RC=$?
wait_exit "$HOSTILE_PID" $((DELAY + LIE_SECONDS + 20)) safenic-hostile
HOSTILE_RC=$?
echo "$NAME: lies over (safenic-hostile exit $HOSTILE_RC), gen exit $GEN_RC"
sleep 1
stop_pid "$RECV_PID" recv 5 > /dev/null
FWD_SELF_STOPPED=no
alive "$FWD_PID" || FWD_SELF_STOPPED=yes

# 2. After the lies: does fwd forward again?
AFTER_RX=0
if [ "$FWD_SELF_STOPPED" = no ]; then
    echo "$NAME: fwd still runs; $AFTER fresh frames through it"
    start_bg recv-after safenic recv "$NIC4" --expect "$AFTER" --idle-timeout 3
    AFTER_PID=$BG_PID
    if wait_running recv-after "$AFTER_PID" "$READY_WAIT"; then
        start_bg gen-after safenic gen "$NIC1" --count "$AFTER" --rate 1000 \
            --src-mac "$MAC1" --dst-mac "$MAC4"
        wait_exit "$BG_PID" 30 gen-after > /dev/null
    fi
    wait_exit "$AFTER_PID" 8 recv-after > /dev/null
    AFTER_RX=$(summary_value recv-after recv rx_packets)
    alive "$FWD_PID" || FWD_SELF_STOPPED=yes
fi

# 3. Stop fwd; it must not have crashed or hung.
if [ "$FWD_SELF_STOPPED" = yes ]; then
    wait "$FWD_PID"
    FWD_RC=$?
    FWD_SIGINT=n/a
else
    stop_pid "$FWD_PID" fwd 10
    FWD_RC=$?
    FWD_SIGINT=$([ "$STOP_ESCALATED" = 0 ] && echo yes || echo no)
fi

show_log hostile
show_log gen
show_log fwd
show_log recv
[ "$FWD_SELF_STOPPED" = yes ] || { show_log gen-after; show_log recv-after; }

WRITES_DONE=$(sed -n 's/^HOSTILE-RESULT: writes=\([0-9]*\).*/\1/p' "$LOG_DIR/hostile.log")
DEVICE_ERRORS=$(summary_value fwd fwd device_errors)
FORWARDED=$(summary_value fwd fwd a_to_b)
RECEIVED=$(summary_value recv recv rx_packets)
CORRUPTED=$(summary_value recv recv corrupted)
DUPLICATED=$(summary_value recv recv duplicated)
MESSAGE=$(grep '^safenic fwd: ' "$LOG_DIR/fwd.log" | tail -1)

check hostile_exit "$HOSTILE_RC" 0
check hostile_wrote "$([ "${WRITES_DONE:-0}" -gt 0 ] && echo yes || echo no)" yes
if [ "$FWD_SELF_STOPPED" = yes ]; then
    # Stopped by itself: only a clean failure exit with its reason.
    check fwd_exit "$FWD_RC" 1
    check fwd_says_why "$([ -n "$MESSAGE" ] && echo yes || echo no)" yes
    OUTCOME="fwd-stopped-itself"
else
    check fwd_exit "$FWD_RC" 0
    check fwd_stops_on_sigint "$FWD_SIGINT" yes
    if [ "$AFTER_RX" != missing ] && [ "$AFTER_RX" -gt 0 ]; then
        OUTCOME="forwarding-again"
    else
        OUTCOME="silent-stall"
        echo "FINDING: after the lies fwd forwarded $AFTER_RX of $AFTER frames," \
             "kept running and said nothing (device_errors=$DEVICE_ERRORS)"
        [ "$STRICT" != 1 ] || check liveness "$OUTCOME" forwarding-again-or-stopped
    fi
fi
case $DEVICE_ERRORS in
    missing|0) check damage_counted "device_errors=$DEVICE_ERRORS" "device_errors>0" ;;
esac
[ -z "$MESSAGE" ] || echo "$NAME: fwd said: $MESSAGE"
verdict "$NAME" "kind=$KIND writes=${WRITES_DONE:-0} sent=$(summary_value gen gen tx_packets)" \
    "gen_exit=$GEN_RC" \
    "forwarded=$FORWARDED received=$RECEIVED corrupted=$CORRUPTED duplicated=$DUPLICATED" \
    "device_errors=$DEVICE_ERRORS outcome=$OUTCOME after=$AFTER_RX/$AFTER"
