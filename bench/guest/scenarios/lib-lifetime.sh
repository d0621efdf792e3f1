#!/bin/sh
# lib-lifetime: the library's lifetime rules on real (emulated) NICs behind
# the IOMMU, with the guest program safenic-lifetime (bench/guest/programs/
# lifetime.c): devices closed in the order they were opened while the other
# one's transmit ring holds their buffers, then every device closed (the
# VFIO container loses its IOMMU) and both opened again in the same
# context. Runs on both cabled pairs of the chain4 topology, NIC1 <-> NIC2
# and NIC3 <-> NIC4, so one boot covers two NIC models
# (run-guest.sh --nic virtio,virtio,e1000e,e1000e). run-scenarios.sh also
# requires DMAR-FAULTS: 0, so a descriptor left pointing at unmapped memory
# fails the case.
. /lib/safenic-bench/lib.sh

NAME=lib-lifetime
FAILED_CHECKS=""
status=""
for pair in "$NIC1 $NIC2" "$NIC3 $NIC4"; do
    # shellcheck disable=SC2086  # two addresses
    set -- $pair
    echo "$NAME: safenic-lifetime $1 $2"
    if timeout 120 safenic-lifetime "$1" "$2"; then
        status="$status pass"
    else
        status="$status fail"
        FAILED_CHECKS="$FAILED_CHECKS pair-$1"
    fi
done
verdict "$NAME" "pairs=$(echo $status | tr ' ' ',')"
