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
#
# Then, in the same boot, on the NIC3 -> NIC4 wire:
#   - dump xdp:NIC4 --count 300 while gen on xdp:NIC3 sends 300 60-byte
#     frames: dump stops by itself with frames=300 and a pcap file of
#     24 + 300 * (16 + 60) bytes;
#   - respond xdp:NIC4 --ip GUEST_IP, and the guest kernel's own stack as
#     its peer on NIC3 (HOST_IP on that interface): ping gets 5 replies of
#     5, which takes respond's ARP reply and its echo replies.
# The verdict is the last line: fwd-chain's numbers, then these.
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
    local _ dir
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        for dir in /sys/bus/pci/devices/"$1"/net/* /sys/bus/pci/devices/"$1"/virtio*/net/*; do
            [ -e "$dir" ] && { basename "$dir"; return 0; }
        done
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
SCENARIO_NAME=afxdp-fwd SCENARIO_NICS=$NICS sh /scenarios/fwd-chain.sh > /tmp/fwd-chain.out 2>&1
FWD_CHAIN_RC=$?
cat /tmp/fwd-chain.out
check fwd_chain "$FWD_CHAIN_RC" 0
RESULT=$(sed -n 's/^VERDICT afxdp-fwd [A-Z]* //p' /tmp/fwd-chain.out | tail -1)
eval "$NICS"

# dump: 300 frames from NIC3, counted and written.
DUMP_COUNT=300
start_bg dump safenic dump "$NIC4" -w /tmp/afxdp.pcap --count "$DUMP_COUNT"
DUMP_PID=$BG_PID
if wait_running dump "$DUMP_PID" 30; then
    start_bg gen-dump safenic gen "$NIC3" --count "$DUMP_COUNT" --rate 500 --size 60 \
        --dst-mac "$MAC4"
    wait_exit "$BG_PID" 30 gen-dump
    check gen_dump_exit "$?" 0
    wait_exit "$DUMP_PID" 20 dump
    check dump_exit "$?" 0
else
    stop_pid "$DUMP_PID" dump 5
    check dump_started no yes
fi
show_log dump
DUMP_FRAMES=$(summary_value dump dump frames)
PCAP_BYTES=$(wc -c < /tmp/afxdp.pcap 2>/dev/null || echo missing)
check dump_frames "$DUMP_FRAMES" "$DUMP_COUNT"
check dump_pcap_bytes "$PCAP_BYTES" $((24 + DUMP_COUNT * (16 + 60)))

# respond: the kernel on NIC3 pings it.
PINGS=5
PEER_IF=${NIC3#xdp:}
ip addr add "$HOST_IP/24" dev "$PEER_IF"
start_bg respond safenic respond "$NIC4" --ip "$GUEST_IP"
RESPOND_PID=$BG_PID
REPLIES=none
if wait_running respond "$RESPOND_PID" 30; then
    ping -c "$PINGS" -W 2 -I "$PEER_IF" "$GUEST_IP" > /tmp/ping.out 2>&1
    REPLIES=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.out)
    cat /tmp/ping.out
fi
stop_pid "$RESPOND_PID" respond 10
check respond_exit "$?" 0
show_log respond
check ping_replies "${REPLIES:-none}" "$PINGS"
check respond_icmp "$(summary_value respond respond icmp)" "$PINGS"
RESULT="$RESULT | dump frames=$DUMP_FRAMES pcap_bytes=$PCAP_BYTES"
RESULT="$RESULT | respond ping $REPLIES/$PINGS arp=$(summary_value respond respond arp)"
RESULT="$RESULT icmp=$(summary_value respond respond icmp)"
verdict "$NAME" "$RESULT"
