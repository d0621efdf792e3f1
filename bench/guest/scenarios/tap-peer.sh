#!/bin/sh
# tap-peer: safenic against a real host peer, on the tap1 topology (NIC1 is
# wired to a tap in the test's network namespace; bench/host-tap-peer.sh
# runs bench/host-peer.py there).
#   1. guest -> host: safenic gen sends COUNT frames to the host peer; the
#      host's sniffer, already running, counts and validates them.
#   2. host -> guest: safenic recv expects PEER_COUNT frames; once it is up
#      the guest prints GUEST-READY-RECV, which the host waits for before it
#      runs host-peer.py send.
# The guest judges what it can see (its own gen and recv); the host adds the
# sniffer's result to the verdict (run-guest.sh fails when the host side did).
#
# Knobs: safenic.count (2000), safenic.rate (1000 pps), safenic.peer_count
# (2000; must match the host's --send-count), safenic.ready_wait (at most
# 30 s for recv to come up).
. /lib/safenic-bench/lib.sh

NAME=tap-peer
COUNT=$(param count 2000)
RATE=$(param rate 1000)
PEER_COUNT=$(param peer_count 2000)
READY_WAIT=$(param ready_wait 30)
IDLE=10

echo "$NAME: gen count=$COUNT rate=$RATE to $HOST_MAC/$HOST_IP; recv expects $PEER_COUNT"

start_bg gen safenic gen "$NIC1" --count "$COUNT" --rate "$RATE" \
    --src-mac "$MAC1" --dst-mac "$HOST_MAC" --src-ip "$GUEST_IP" --dst-ip "$HOST_IP"
wait_exit "$BG_PID" $((COUNT / RATE * 2 + 60)) gen
GEN_RC=$?
show_log gen

start_bg recv safenic recv "$NIC1" --expect "$PEER_COUNT" --idle-timeout "$IDLE"
RECV_PID=$BG_PID
RECV_READY=no
if wait_running recv "$RECV_PID" "$READY_WAIT"; then
    RECV_READY=yes
    echo GUEST-READY-RECV
else
    echo "recv exited before it was ready; the host will not send"
fi
# Frames come at the host's rate (1000 pps in run-scenarios.sh) once the
# host has seen GUEST-READY-RECV; allow for a much slower host.
wait_exit "$RECV_PID" $((PEER_COUNT / 100 + IDLE + 60)) recv
RECV_RC=$?
show_log recv

SENT=$(summary_value gen gen tx_packets)
RECEIVED=$(summary_value recv recv rx_packets)
VALID=$(summary_value recv recv valid)
LOST=$(summary_value recv recv lost)
DUP=$(summary_value recv recv duplicated)
REORD=$(summary_value recv recv reordered)
CORRUPT=$(summary_value recv recv corrupted)
FOREIGN=$(summary_value recv recv foreign)

check gen_exit "$GEN_RC" 0
check recv_ready "$RECV_READY" yes
check recv_exit "$RECV_RC" 0
check sent "$SENT" "$COUNT"
check received "$RECEIVED" "$PEER_COUNT"
check valid "$VALID" "$PEER_COUNT"
check lost "$LOST" 0
check duplicated "$DUP" 0
check corrupted "$CORRUPT" 0
verdict "$NAME" "sent=$SENT received=$RECEIVED valid=$VALID lost=$LOST" \
    "duplicated=$DUP reordered=$REORD corrupted=$CORRUPT foreign=$FOREIGN"
