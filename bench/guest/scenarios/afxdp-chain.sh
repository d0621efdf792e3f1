#!/bin/sh
# afxdp-chain: fwd-chain (gen -> cable -> fwd -> cable -> recv, every frame
# accounted for; see fwd-chain.sh for the checks) with every NIC left to
# the guest kernel's own driver and safenic on AF_XDP sockets
# (xdp:IFNAME). Booted with safenic.bind=none, so the NICs are not given
# to vfio-pci; this script loads the kernel driver (virtio_net), brings
# the interfaces up without IPv6 (the kernel would otherwise send its own
# router solicitations and neighbour discovery out of them, frames that
# fwd would forward and recv count as foreign), mounts the BPF file system
# (libxdp keeps its XDP dispatcher there), and runs fwd-chain.sh on the
# four xdp: devices. The kernel driver does the DMA, through the guest's
# IOMMU with the kernel's own mappings: DMAR must stay at zero faults all
# the same.
. /lib/safenic-bench/lib.sh

NAME=afxdp-chain
DIR=/lib/safenic-bench/modules

fail_setup() {
    echo "$NAME: $*"
    verdict "$NAME" "setup-failed"
    exit 1
}

# iface_of BDF: the kernel network interface of a PCI NIC (virtio-net puts
# it under its virtio device), once the driver has made it.
iface_of() {
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        ls /sys/bus/pci/devices/"$1"/net /sys/bus/pci/devices/"$1"/virtio*/net \
            2>/dev/null | grep -v ':$' | grep . | head -1 && return 0
        sleep 0.5
    done
    return 1
}

for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 /proc/sys/net/ipv6/conf/all/disable_ipv6; do
    [ ! -e "$f" ] || echo 1 > "$f"
done
for ko in $(cat "$DIR/kernelnet.list"); do
    insmod "$DIR/$ko" || fail_setup "insmod $ko failed"
done
mount -t bpf bpf /sys/fs/bpf || fail_setup "cannot mount the BPF file system on /sys/fs/bpf"
NICS=""
for n in 1 2 3 4; do
    eval bdf=\$NIC$n
    iface=$(iface_of "$bdf") || fail_setup "no kernel interface for NIC $n ($bdf)"
    ip link set dev "$iface" up || fail_setup "cannot bring $iface up"
    echo "$NAME: NIC $n ($bdf, $(cat /sys/class/net/"$iface"/address)) is $iface," \
         "driver $(basename "$(readlink /sys/class/net/"$iface"/device/driver)")"
    NICS="$NICS NIC$n=xdp:$iface"
done
SCENARIO_NAME=$NAME SCENARIO_NICS=$NICS exec sh /scenarios/fwd-chain.sh
