#!/bin/sh
# selftest-boot: checks the bench itself, no safenic needed. /init has
# already checked that the NICs sit at the fixed BDFs with the expected IDs;
# this adds what safenic relies on:
#   with an IOMMU: every NIC bound to vfio-pci with its own /dev/vfio/N,
#     /dev/vfio/vfio present, DMA remapping and interrupt remapping on;
#   without:      every NIC without a driver, uio_pci_generic loaded;
#   both:         the requested huge pages reserved, the requested THP
#                 setting (safenic.thp) in force, safenic runs (if present).
. /lib/safenic-bench/lib.sh

NAME=selftest-boot
NICS=0
GROUPS_SEEN=""
for dev in /sys/bus/pci/devices/*; do
    case $(cat "$dev/class") in 0x02*) ;; *) continue ;; esac
    NICS=$((NICS + 1))
    bdf=$(basename "$dev")
    driver=none
    [ -e "$dev/driver" ] && driver=$(basename "$(readlink "$dev/driver")")
    if have_iommu; then
        check "driver_$bdf" "$driver" vfio-pci
        group=$(basename "$(readlink "$dev/iommu_group")")
        check "devnode_$bdf" "$([ -c "/dev/vfio/$group" ] && echo yes)" yes
        case " $GROUPS_SEEN " in *" $group "*) check "own_group_$bdf" shared own ;; esac
        GROUPS_SEEN="$GROUPS_SEEN $group"
    else
        check "driver_$bdf" "$driver" none
    fi
done
check nics_found "$([ "$NICS" -gt 0 ] && echo yes)" yes

if have_iommu; then
    check vfio_container "$([ -c /dev/vfio/vfio ] && echo yes)" yes
    check dma_remapping "$(dmesg | grep -q 'DMAR: IOMMU enabled' && echo yes)" yes
    check irq_remapping "$(dmesg | grep -q 'Enabled IRQ remapping' && echo yes)" yes
else
    check uio_loaded "$(grep -q '^uio_pci_generic ' /proc/modules && echo yes)" yes
fi

HUGE=$(sed -n 's/^HugePages_Total: *//p' /proc/meminfo)
check hugepages "$HUGE" "$(param hugepages 256)"
THP=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
[ -z "$(param thp "")" ] || check thp "$THP" "$(param thp "")"

# Informational only: what safenic itself sees on this bus.
if [ -x /usr/bin/safenic ]; then
    safenic devices > /tmp/devices.txt 2>&1
    echo "safenic devices exited $?:"
    sed 's/^/[safenic] /' /tmp/devices.txt
fi
verdict "$NAME" "nics=$NICS iommu=$(have_iommu && echo on || echo off) hugepages=$HUGE thp=${THP:-none}"
