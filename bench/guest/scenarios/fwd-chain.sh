#!/bin/sh
# fwd-chain: generator -> cable -> forwarder -> cable -> receiver, all safenic,
# on the chain4 topology:
#   NIC1 (gen) <-hub 0-> NIC2 (fwd port A)   NIC3 (fwd port B) <-hub 1-> NIC4 (recv)
# Passes when every generated frame is forwarded once and received intact:
#   gen tx_packets == fwd a_to_b == recv rx_packets == recv valid == COUNT,
#   recv lost = duplicated = corrupted = 0, every exit status 0.
# The hubs lose nothing, but "reordered" is only reported: QEMU's network
# queue can reorder. When a NIC's receive ring was full, QEMU queues the
# frame; a frame sent after the ring is refilled but before the driver's
# notify flushes that queue is delivered first (net/queue.c,
# qemu_net_queue_send). A few per 20000 were seen with a correct count.
#
# Kernel command line knobs: safenic.count (20000), safenic.rate (5000 pps;
# below TCG's capacity of about 0.1 Mpps), safenic.size (60 bytes),
# safenic.ready_wait (at most 30 s for recv and fwd to come up).
# Run with SCENARIO_UNSAFE=1 (see fwd-chain-unsafe.sh) to add --unsafe.
. /lib/safenic-bench/lib.sh

NAME=${SCENARIO_NAME:-fwd-chain}
UNSAFE=""
[ "${SCENARIO_UNSAFE:-0}" = 1 ] && UNSAFE=--unsafe
COUNT=$(param count 20000)
RATE=$(param rate 5000)
SIZE=$(param size 60)
READY_WAIT=$(param ready_wait 30)
# The generator needs COUNT/RATE seconds; give it that twice plus 60 s.
GEN_LIMIT=$((COUNT / RATE * 2 + 60))
IDLE=10

# stop_all: every background program ends before the script does.
stop_all() {
    [ -n "$RECV_PID" ] && alive "$RECV_PID" && stop_pid "$RECV_PID" recv 5
    [ -n "$FWD_PID" ] && alive "$FWD_PID" && stop_pid "$FWD_PID" fwd 5
    return 0
}

echo "$NAME: count=$COUNT rate=$RATE size=$SIZE $UNSAFE" \
     "hugepages=$(cat /proc/sys/vm/nr_hugepages)" \
     "iommu=$(have_iommu && echo on || echo off)"
RECV_PID=""
FWD_PID=""

start_bg recv safenic recv "$NIC4" --expect "$COUNT" --idle-timeout "$IDLE" $UNSAFE
RECV_PID=$BG_PID
start_bg fwd safenic fwd "$NIC2" "$NIC3" $UNSAFE
FWD_PID=$BG_PID
# Both must be polling before the first frame is sent. A receiver or
# forwarder that died or hung while starting fails the case at once.
if ! wait_running recv "$RECV_PID" "$READY_WAIT" ||
   ! wait_running fwd "$FWD_PID" "$READY_WAIT"; then
    echo "recv or fwd did not start"
    stop_all
    show_log fwd
    show_log recv
    check startup failed ok
    verdict "$NAME" "sent=0 forwarded=0 received=0"
    exit 1
fi

start_bg gen safenic gen "$NIC1" --count "$COUNT" --rate "$RATE" --size "$SIZE" \
    --src-mac "$MAC1" --dst-mac "$MAC4" $UNSAFE
wait_exit "$BG_PID" "$GEN_LIMIT" gen
GEN_RC=$?
# The receiver stops by itself after COUNT frames, or IDLE seconds after
# the last one when some are missing. A failed generator sent nothing more
# to wait for: stop the receiver after a few seconds.
if [ "$GEN_RC" -eq 0 ]; then
    wait_exit "$RECV_PID" $((IDLE + 30)) recv
else
    wait_exit "$RECV_PID" 3 recv
fi
RECV_RC=$?
stop_pid "$FWD_PID" fwd 10
FWD_RC=$?
FWD_SIGINT=$([ "$STOP_ESCALATED" = 0 ] && echo yes || echo no)

show_log gen
show_log fwd
show_log recv

SENT=$(summary_value gen gen tx_packets)
FORWARDED=$(summary_value fwd fwd a_to_b)
BACKWARD=$(summary_value fwd fwd b_to_a)
RECEIVED=$(summary_value recv recv rx_packets)
VALID=$(summary_value recv recv valid)
LOST=$(summary_value recv recv lost)
DUP=$(summary_value recv recv duplicated)
REORD=$(summary_value recv recv reordered)
CORRUPT=$(summary_value recv recv corrupted)

check gen_exit "$GEN_RC" 0
check fwd_exit "$FWD_RC" 0
check fwd_stops_on_sigint "$FWD_SIGINT" yes
check recv_exit "$RECV_RC" 0
check sent "$SENT" "$COUNT"
check forwarded "$FORWARDED" "$COUNT"
check received "$RECEIVED" "$COUNT"
check valid "$VALID" "$COUNT"
check lost "$LOST" 0
check duplicated "$DUP" 0
check corrupted "$CORRUPT" 0
verdict "$NAME" "sent=$SENT forwarded=$FORWARDED received=$RECEIVED" \
    "valid=$VALID lost=$LOST duplicated=$DUP reordered=$REORD corrupted=$CORRUPT" \
    "b_to_a=$BACKWARD drops=$(summary_value fwd fwd drops)"
