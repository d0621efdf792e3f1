#!/bin/sh
# selftest-dmar: proves that the IOMMU blocks a stray DMA and that the
# bench sees it (so DMAR-FAULTS: 0 elsewhere means something). No safenic.
# Needs an e1000e NIC1 left without a driver (run-guest.sh --nic e1000e
# --param bind=none): its TX ring base is pointed at an IOVA nothing maps,
# and one descriptor is queued; the device's descriptor fetch must be
# blocked and logged as a DMAR fault.
# 82574 datasheet (rev 3.4) register offsets, section 10.2.
. /lib/safenic-bench/lib.sh

NAME=selftest-dmar
DEV=/sys/bus/pci/devices/$NIC1
TCTL=0x0400 TDBAL=0x3800 TDBAH=0x3804 TDLEN=0x3808 TDH=0x3810 TDT=0x3818
STRAY_IOVA=0xdead0000

have_iommu || { echo "$NAME needs the IOMMU"; verdict "$NAME" iommu=off; exit 1; }
[ ! -e "$DEV/driver" ] || { echo "$NAME: boot with safenic.bind=none"; exit 1; }
BAR0=$(($(head -1 "$DEV/resource" | cut -d' ' -f1)))

reg() { devmem $((BAR0 + $1)) 32 "$2"; }

# PCI command register (offset 4): memory space + bus master.
printf '\006\000' | dd of="$DEV/config" bs=1 seek=4 count=2 conv=notrunc 2>/dev/null
reg $TDBAL $STRAY_IOVA
reg $TDBAH 0
reg $TDLEN 4096
reg $TDH 0
reg $TCTL 0x2          # TCTL.EN
reg $TDT 1             # one descriptor to fetch
sleep 1

dmesg | grep -i 'dmar.*fault' | sed 's/^/observed: /'
FAULT=$(dmesg | grep -i dmar | grep -ci "fault addr $STRAY_IOVA")
check stray_dma_blocked "$([ "$FAULT" -gt 0 ] && echo yes)" yes
verdict "$NAME" "fault_lines=$FAULT"
