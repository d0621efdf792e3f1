#!/bin/sh
# tools-respond: Linux's ping, arping and ping -6 on the host get replies
# from `safenic respond`, which drives NIC1 behind the IOMMU. tap1
# topology; bench/host-respond.sh runs in the test's network namespace
# (10.0.0.2 and fd5a:fe::2 on the tap) once the guest prints
# GUEST-READY-RESPOND, and judges the host side (HOST-RESULT line).
# The guest waits until respond has answered what the host sends (5
# pings, 3 arpings plus the kernel's own ARP, 5 pings over IPv6 to the
# configured address and 5 to the link-local one, at least one neighbour
# solicitation) and counted the fragments of the two pings too big for
# one frame (at least 4), then stops it and checks that every request got
# its reply, nothing was malformed and no reply was too big.
# Knobs: safenic.wait (90 s for the host to finish).
. /lib/safenic-bench/lib.sh
. /scenarios/tools-lib.sh

NAME=tools-respond
IP6=fd5a:fe::1
WAIT=$(param wait 90)

start_split respond safenic respond "$NIC1" --ip "$GUEST_IP" --ip6 "$IP6" --json
PID=$BG_PID
if ! wait_started respond "$PID" 30; then
    show_split respond
    check respond_started no yes
    verdict "$NAME" "respond did not start"
    exit 1
fi
echo GUEST-READY-RESPOND

ticks=0
while [ $ticks -lt $((WAIT * 5)) ]; do
    if [ "$(json_value respond icmp)" -ge 5 ] 2>/dev/null &&
       [ "$(json_value respond arp)" -ge 4 ] 2>/dev/null &&
       [ "$(json_value respond nd)" -ge 1 ] 2>/dev/null &&
       [ "$(json_value respond icmp6)" -ge 10 ] 2>/dev/null &&
       [ "$(json_value respond fragments)" -ge 4 ] 2>/dev/null; then
        break
    fi
    alive "$PID" || break
    sleep 0.2
    ticks=$((ticks + 1))
done
sleep 1   # the last replies leave before the device closes
stop_pid "$PID" respond 10
check respond_exit "$?" 0
check respond_stops_on_sigint "$STOP_ESCALATED" 0
show_split respond
emit_json respond

for key in icmp icmp6 nd; do
    v=$(split_summary respond respond "$key")
    check "respond_$key" "$([ "$v" -ge 1 ] 2>/dev/null && echo yes)" yes
done
check respond_arp_4 "$([ "$(split_summary respond respond arp)" -ge 4 ] 2>/dev/null && echo yes)" yes
check respond_icmp_5 "$([ "$(split_summary respond respond icmp)" -ge 5 ] 2>/dev/null && echo yes)" yes
check respond_icmp6_10 "$([ "$(split_summary respond respond icmp6)" -ge 10 ] 2>/dev/null && echo yes)" yes
check respond_fragments_4 "$([ "$(split_summary respond respond fragments)" -ge 4 ] 2>/dev/null && echo yes)" yes
check respond_too_big "$(split_summary respond respond too_big)" 0
check respond_bad_checksum "$(split_summary respond respond bad_checksum)" 0
check respond_malformed "$(split_summary respond respond malformed)" 0
check respond_tx_drops "$(split_summary respond respond tx_drops)" 0
verdict "$NAME" "arp=$(split_summary respond respond arp)" \
    "icmp=$(split_summary respond respond icmp) nd=$(split_summary respond respond nd)" \
    "icmp6=$(split_summary respond respond icmp6)" \
    "fragments=$(split_summary respond respond fragments)" \
    "ignored=$(split_summary respond respond ignored)"
