#!/bin/sh
# irq: receive interrupts and link events on real (emulated) NICs behind
# the IOMMU, with the guest program safenic-irq (bench/guest/programs/
# irq.c): a receiver thread sleeping in poll() on its queue's eventfd must
# be woken by every burst, receive every frame, use almost no CPU while
# idle, and a cable pulled and put back (QEMU monitor set_link, through
# bench/host-monitor.py as run-guest.sh's host hook) must fire the event
# fd both times. One boot covers three models with the chain4 cabling
# (run-guest.sh --nic igb,e1000e,virtio,virtio): NIC1 igb receives from
# NIC2, NIC2 e1000e from NIC1, NIC4 virtio from NIC3.
# run-scenarios.sh also requires DMAR-FAULTS: 0.
#
# Knob: safenic.irq_cycles (bursts per NIC, 5).
. /lib/safenic-bench/lib.sh

NAME=irq
CYCLES=$(param irq_cycles 5)
FAILED_CHECKS=""
status=""
for run in "$NIC1 $NIC2 net1" "$NIC2 $NIC1 net2" "$NIC4 $NIC3 net4"; do
    # shellcheck disable=SC2086  # three words
    set -- $run
    echo "$NAME: safenic-irq $1 $2 $3 $CYCLES"
    if timeout 120 safenic-irq "$1" "$2" "$3" "$CYCLES"; then
        status="$status pass"
    else
        status="$status fail"
        FAILED_CHECKS="$FAILED_CHECKS rx-$1"
    fi
done
verdict "$NAME" "runs=$(echo $status | tr ' ' ',')"
