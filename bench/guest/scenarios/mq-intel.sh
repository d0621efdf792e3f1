#!/bin/sh
# mq-intel: RSS on QEMU's igb (82576) and e1000e (82574L), with the guest
# program safenic-mqcheck (bench/guest/programs/mqcheck.c), on chain4 with
# run-guest.sh --nic igb,igb,e1000e,e1000e. NIC1 sends FLOWS TCP flows of
# COUNT frames to NIC2 opened with IGB_QUEUES receive queues, then NIC3
# to NIC4 with 2 (the 82574L has two). TCP because QEMU's e1000e hashes
# no UDP ports (a UDP flow would hash on its addresses alone); igb runs
# the same for comparison. mqcheck checks that asking for one queue more
# than the device has (igb: 9, e1000e: 3) fails naming the maximum, that
# every queue gets a share, that a flow stays on one queue and in order
# with nothing lost, that the per-queue counts add up to the device's, and
# that every frame carries the default key's Toeplitz hash of its flow and
# came on the queue the driver's redirection table gives that hash.
#
# Knobs: safenic.igb_queues (4), safenic.flows (64), safenic.count (20).
. /lib/safenic-bench/lib.sh

NAME=mq-intel
IGB_QUEUES=$(param igb_queues 4)
FLOWS=$(param flows 64)
COUNT=$(param count 20)

run_mqcheck() { # label tx rx queues max
	echo "$NAME: $1: safenic-mqcheck $2 $3 $4 $FLOWS $COUNT tcp $5"
	timeout 150 safenic-mqcheck "$2" "$3" "$4" "$FLOWS" "$COUNT" tcp "$5" > "/tmp/mqcheck-$1.log" 2>&1
	RC=$?
	cat "/tmp/mqcheck-$1.log"
	check "mqcheck_$1" "$RC" 0
	eval "COUNTS_$1=\$(sed -n 's/^MQCHECK: queue [0-9]*: \([0-9]*\) frames.*/\1/p' /tmp/mqcheck-$1.log | tr '\n' '/')"
}

run_mqcheck igb "$NIC1" "$NIC2" "$IGB_QUEUES" 8
run_mqcheck e1000e "$NIC3" "$NIC4" 2 2

# Then the tools in the same boot (multiqueue.sh, UDP flows that differ
# in source address and port): gen --flows --queues N on NIC1 -> recv
# --queues N on NIC2 (igb), then NIC3 -> NIC4 with 2 (e1000e); its
# checks fail the case, its numbers join the verdict.
MQ_PAIRS=1-2-$IGB_QUEUES,3-4-2 MQ_FLOWS=$FLOWS SCENARIO_NAME=tools \
    /scenarios/multiqueue.sh > /tmp/multiqueue.log 2>&1
RC=$?
sed 's/^/[tools] /' /tmp/multiqueue.log
check tools_exit "$RC" 0
TOOLS=$(sed -n 's/^VERDICT tools //p' /tmp/multiqueue.log | tail -1)
verdict "$NAME" "flows=$FLOWS igb_per_queue=${COUNTS_igb%/} e1000e_per_queue=${COUNTS_e1000e%/} | tools: ${TOOLS:-no verdict}"
