#!/bin/sh
# tools-noiommu: the bad-input cases of a machine without an IOMMU (guest
# booted with run-guest.sh --iommu off, legacy virtio, NICs left without a
# driver by /init). Every device command without --unsafe, and bind, say
# that the IOMMU is off and how to turn it on; in unsafe mode, which needs
# huge pages, their absence is an error naming the fix. Then, with the
# pages back, dump --unsafe captures what gen --unsafe sends (a smoke test
# of the new commands on the unsafe path).
. /lib/safenic-bench/lib.sh
. /scenarios/tools-lib.sh

NAME=tools-noiommu
if have_iommu; then
    echo "$NAME: this guest has an IOMMU; boot it with --iommu off"
    verdict "$NAME" wrong-guest
    exit 1
fi

for cmd in gen recv respond; do
    extra=""
    [ "$cmd" = respond ] && extra="--ip 10.0.0.1"
    # shellcheck disable=SC2086
    errcase "no-iommu-$cmd" 1 "the IOMMU is off" "intel_iommu=on" -- \
        safenic $cmd "$NIC1" $extra
done
errcase no-iommu-dump 1 "the IOMMU is off" "--unsafe" -- \
    safenic dump "$NIC2" -w /tmp/x.pcap
errcase no-iommu-fwd 1 "the IOMMU is off" "intel_iommu=on" -- \
    safenic fwd "$NIC2" "$NIC3"
errcase no-iommu-bind 1 "has no IOMMU group" "intel_iommu=on" -- \
    safenic bind "$NIC1"

echo 0 > /proc/sys/vm/nr_hugepages
errcase unsafe-no-hugepages 1 "huge pages" "nr_hugepages" -- \
    safenic gen "$NIC1" --unsafe --count 1
echo 256 > /proc/sys/vm/nr_hugepages

start_split dump safenic dump "$NIC2" --unsafe -w /tmp/unsafe.pcap --count 100
DUMP_PID=$BG_PID
if wait_started dump "$DUMP_PID" 30; then
    safenic gen "$NIC1" --unsafe --count 100 --rate 1000 --dst-mac "$MAC2" \
        > /tmp/gen.log 2>&1
    check gen_unsafe_exit "$?" 0
    wait_exit "$DUMP_PID" 30 dump
    check dump_unsafe_exit "$?" 0
else
    check dump_unsafe_started no yes
    stop_pid "$DUMP_PID" dump 5 > /dev/null
fi
show_split dump
check dump_unsafe_frames "$(split_summary dump dump frames)" 100
echo "PCAP-EXPECT unsafe frames=100 bytes=6000 caplen=full udp=100"
emit_pcap unsafe /tmp/unsafe.pcap

verdict "$NAME" "cases=$ERRCASES unsafe_frames=$(split_summary dump dump frames)"
