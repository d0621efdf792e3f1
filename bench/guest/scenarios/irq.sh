#!/bin/sh
# irq: receive interrupts and link events on real (emulated) NICs behind
# the IOMMU, with the guest program safenic-irq (bench/guest/programs/
# irq.c): a receiver thread sleeping in poll() on its queue's eventfd must
# be woken by every burst, receive every frame, use almost no CPU while
# idle, and a cable pulled and put back (QEMU monitor set_link, through
# bench/host-monitor.py as run-guest.sh's host hook) must fire the event
# fd both times. One boot covers three models with the chain4 cabling
# (run-guest.sh --nic igb,e1000e,virtio,virtio): NIC1 igb receives from
# NIC2, NIC2 e1000e from NIC1, NIC4 virtio from NIC3; then NIC1 igb with
# 4 receive queues and NIC2 e1000e with 2, RSS over 64 UDP flows, a
# receiver thread per queue: every queue must get frames and be woken.
# safenic.irq_runs=virtio-mq instead: NIC2, a multi-queue virtio-net
# (run-guest.sh --nic virtio,virtio-mq --topology tap2), opened with 4
# receive queues and RSS, fed 64 UDP flows by NIC1, a receiver thread per
# queue: every queue must get frames and be woken.
# run-scenarios.sh also requires DMAR-FAULTS: 0.
#
# safenic.irq_runs=intel-mq: only the two multi-queue Intel runs.
# Knobs: safenic.irq_cycles (bursts per NIC, 5), safenic.irq_runs
# (default, virtio-mq or intel-mq).
. /lib/safenic-bench/lib.sh

NAME=irq
CYCLES=$(param irq_cycles 5)
RUNS=$(param irq_runs single)
FAILED_CHECKS=""
status=""
case $RUNS in
    virtio-mq) set -- "$NIC2 $NIC1 net2 4" ;;
    intel-mq) set -- "$NIC1 $NIC2 net1 4" "$NIC2 $NIC1 net2 2" ;;
    *) set -- "$NIC1 $NIC2 net1 1" "$NIC2 $NIC1 net2 1" "$NIC4 $NIC3 net4 1" \
              "$NIC1 $NIC2 net1 4" "$NIC2 $NIC1 net2 2" ;;
esac
for run in "$@"; do
    # shellcheck disable=SC2086  # four words
    set -- $run
    echo "$NAME: safenic-irq $1 $2 $3 $CYCLES $4"
    if timeout 120 safenic-irq "$1" "$2" "$3" "$CYCLES" "$4"; then
        status="$status pass"
    else
        status="$status fail"
        FAILED_CHECKS="$FAILED_CHECKS rx-$1-q$4"
    fi
done
verdict "$NAME" "runs=$(echo $status | tr ' ' ',')"
