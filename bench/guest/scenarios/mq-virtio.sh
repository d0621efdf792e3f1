#!/bin/sh
# mq-virtio: multi-queue virtio-net with RSS, with the guest program
# safenic-mqcheck (bench/guest/programs/mqcheck.c). NIC1 sends FLOWS UDP
# flows, COUNT frames each; NIC2 (run-guest.sh --nic virtio,virtio-mq on
# the tap2 topology: 4 queue pairs behind a multi-queue tap) receives on
# QUEUES queues. mqcheck checks that asking for one queue more fails
# naming the maximum, that every queue gets a share, that a flow stays on
# one queue and in order with nothing lost, that the per-queue counts add
# up to the device's, and that QEMU's hash of every frame is the default
# key's Toeplitz hash and picked the queue the driver's table says.
# Then, in the same boot, the tools do the same through multiqueue.sh:
# safenic gen --flows 64 on NIC1, safenic recv --queues QUEUES on NIC2.
#
# Knobs: safenic.queues (4), safenic.flows (64), safenic.count (50 frames
# per flow).
. /lib/safenic-bench/lib.sh

NAME=mq-virtio
QUEUES=$(param queues 4)
FLOWS=$(param flows 64)
COUNT=$(param count 50)
FAILED_CHECKS=""

echo "$NAME: safenic-mqcheck $NIC1 $NIC2 $QUEUES $FLOWS $COUNT"
timeout 150 safenic-mqcheck "$NIC1" "$NIC2" "$QUEUES" "$FLOWS" "$COUNT" > /tmp/mqcheck.log 2>&1
RC=$?
cat /tmp/mqcheck.log
check mqcheck_exit "$RC" 0
QUEUE_COUNTS=$(sed -n 's/^MQCHECK: queue [0-9]*: \([0-9]*\) frames.*/\1/p' /tmp/mqcheck.log | tr '\n' '/')

# Then the tools in the same boot: gen --flows on NIC1 (one queue), recv
# --queues on NIC2 (multiqueue.sh, whose checks and numbers join ours).
MQ_PAIRS=1-2-$QUEUES-1 MQ_FLOWS=$FLOWS MQ_COUNT=$((FLOWS * 100)) SCENARIO_NAME=tools \
    /scenarios/multiqueue.sh > /tmp/multiqueue.log 2>&1
RC=$?
sed 's/^/[tools] /' /tmp/multiqueue.log
check tools_exit "$RC" 0
TOOLS=$(sed -n 's/^VERDICT tools //p' /tmp/multiqueue.log | tail -1)
verdict "$NAME" "queues=$QUEUES flows=$FLOWS per_queue=${QUEUE_COUNTS%/} | tools: ${TOOLS:-no verdict}"
