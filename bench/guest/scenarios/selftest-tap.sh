#!/bin/sh
# selftest-tap: proves the tap1 wiring and bench/host-peer.py without safenic,
# using the guest kernel's own virtio-net driver (boot with safenic.bind=none
# so NIC1 stays with the kernel; run-scenarios.sh --selftest does that).
#   guest -> host: PINGS ICMP echo requests to the host peer's address (the
#     host does not answer: its tap has no address); the host sniffer counts
#     them as foreign frames.
#   host -> guest: after GUEST-READY-RECV the host sends safenic-format UDP
#     frames; the guest checks that its rx_packets counter grew by at least
#     PEER_COUNT (the kernel may also count frames of its own, e.g. none
#     here since the host's IPv6 is off, hence "at least").
. /lib/safenic-bench/lib.sh

NAME=selftest-tap
PINGS=$(param pings 5)
PEER_COUNT=$(param peer_count 2000)
DIR=/lib/safenic-bench/modules

for ko in $(cat "$DIR/kernelnet.list"); do
    insmod "$DIR/$ko" || { echo "insmod $ko failed"; exit 1; }
done
IFACE=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    IFACE=$(ls /sys/bus/pci/devices/$NIC1/virtio*/net 2>/dev/null | head -1)
    [ -n "$IFACE" ] && break
    sleep 0.5
done
[ -n "$IFACE" ] || { echo "no kernel interface for $NIC1"; verdict "$NAME" "iface=none"; exit 1; }
echo "$NAME: $NIC1 is $IFACE, mac $(cat /sys/class/net/$IFACE/address)"
ip link set "$IFACE" up
ip addr add "$GUEST_IP/24" dev "$IFACE"
ip neigh replace "$HOST_IP" lladdr "$HOST_MAC" dev "$IFACE" nud permanent
sleep 1

TX0=$(cat /sys/class/net/$IFACE/statistics/tx_packets)
ping -c "$PINGS" -W 1 "$HOST_IP" > /tmp/ping.txt 2>&1
TX=$(( $(cat /sys/class/net/$IFACE/statistics/tx_packets) - TX0 ))

RX0=$(cat /sys/class/net/$IFACE/statistics/rx_packets)
echo GUEST-READY-RECV
ticks=0
while [ $(( $(cat /sys/class/net/$IFACE/statistics/rx_packets) - RX0 )) -lt "$PEER_COUNT" ] &&
      [ $ticks -lt 300 ]; do
    sleep 0.2
    ticks=$((ticks + 1))
done
RX=$(( $(cat /sys/class/net/$IFACE/statistics/rx_packets) - RX0 ))

check pings_sent "$([ "$TX" -ge "$PINGS" ] && echo yes)" yes
check peer_frames "$([ "$RX" -ge "$PEER_COUNT" ] && echo yes)" yes
verdict "$NAME" "tx=$TX rx=$RX expected_rx=$PEER_COUNT"
