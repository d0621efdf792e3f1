#!/bin/sh
# demo: what ./demo.sh shows. Generator on NIC1, forwarder between NIC2 and
# NIC3, receiver on NIC4 (chain4 topology), all behind the IOMMU, with the
# per-second rate lines of all three shown as they come, then one summary.
# Knobs: safenic.count (200000), safenic.rate (20000 pps).
. /lib/safenic-bench/lib.sh

COUNT=$(param count 200000)
RATE=$(param rate 20000)
RECV_PID=""
FWD_PID=""
TAIL_PID=""

finish() {
    [ -n "$TAIL_PID" ] && kill $TAIL_PID 2>/dev/null
    [ -n "$RECV_PID" ] && alive "$RECV_PID" && stop_pid "$RECV_PID" recv 5 >/dev/null
    [ -n "$FWD_PID" ] && alive "$FWD_PID" && stop_pid "$FWD_PID" fwd 5 >/dev/null
    return 0
}

echo "demo: $COUNT frames of 64 bytes at $RATE frames/s:"
echo "  safenic gen $NIC1  ->  safenic fwd $NIC2 $NIC3  ->  safenic recv $NIC4"
start_bg recv safenic recv "$NIC4" --expect "$COUNT" --idle-timeout 5
RECV_PID=$BG_PID
start_bg fwd safenic fwd "$NIC2" "$NIC3"
FWD_PID=$BG_PID
if ! wait_running recv "$RECV_PID" 30 || ! wait_running fwd "$FWD_PID" 30; then
    show_log recv
    show_log fwd
    finish
    exit 1
fi
# Each program's lines, live, tagged with its name (from the start: its
# device and memory lines were printed before the tails began).
follow() {
    tail -n +1 -f "$LOG_DIR/$1.log" 2>/dev/null | sed "s/^/[$1] /" &
    TAILS="$TAILS $!"
}
TAILS=""
follow recv
follow fwd
safenic gen "$NIC1" --count "$COUNT" --rate "$RATE" --src-mac "$MAC1" --dst-mac "$MAC4" \
    > "$LOG_DIR/gen.log" 2>&1 &
GEN_PID=$!
follow gen
wait "$GEN_PID"
GEN_RC=$?
wait_exit "$RECV_PID" 40 recv
RECV_RC=$?
stop_pid "$FWD_PID" fwd 10
FWD_RC=$?
sleep 1   # the tails print the programs' last lines
TAIL_PID=$TAILS
finish

echo
SENT=$(summary_value gen gen tx_packets)
FWD=$(summary_value fwd fwd a_to_b)
RECEIVED=$(summary_value recv recv valid)
LOST=$(summary_value recv recv lost)
CORRUPT=$(summary_value recv recv corrupted)
REORDERED=$(summary_value recv recv reordered)
DRY=$(( $(summary_value fwd fwd a_rx_starved) + $(summary_value recv recv rx_starved) ))
ORDER="reordered=$REORDERED"
[ "$REORDERED" = 0 ] || ORDER="$ORDER (after receive rings ran dry $DRY times: QEMU\
 then queues frames and may deliver a later one first; see bench/README.md)"
echo "DEMO-SUMMARY: sent=$SENT forwarded=$FWD received_valid=$RECEIVED lost=$LOST" \
     "corrupted=$CORRUPT $ORDER (exit gen=$GEN_RC fwd=$FWD_RC recv=$RECV_RC)"
[ "$GEN_RC" = 0 ] && [ "$FWD_RC" = 0 ] && [ "$RECV_RC" = 0 ] &&
    [ "$SENT" = "$COUNT" ] && [ "$FWD" = "$COUNT" ] && [ "$RECEIVED" = "$COUNT" ] &&
    [ "$LOST" = 0 ] && [ "$CORRUPT" = 0 ]
