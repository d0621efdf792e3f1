#!/bin/sh
# Host side of the tools-respond scenario; bench/run-tools.sh starts it
# through run-guest.sh --host-hook, inside the test's network namespace,
# with SAFENIC_TAP (the tap wired to the guest's NIC1) and SAFENIC_CONSOLE.
#
# Gives the tap 10.0.0.2/24 and fd5a:fe::2/64 (IPv6, which run-guest.sh
# turns off on the tap, is turned back on here, for this namespace only),
# waits for the guest's GUEST-READY-RESPOND, then runs Linux's own tools
# against `safenic respond` in the guest:
#   ping -c 5 10.0.0.1, arping -c 3 10.0.0.1, ping -6 -c 5 fd5a:fe::1
# Prints every tool's transcript, then one line
#   HOST-RESULT ping=ok|FAIL arping=ok|FAIL ping6=ok|FAIL
# and exits 0 only if all three got every reply.
set -u

GUEST_IP=10.0.0.1
HOST_IP=10.0.0.2
GUEST_IP6=fd5a:fe::1
HOST_IP6=fd5a:fe::2
READY_TIMEOUT=${READY_TIMEOUT:-240}
: "${SAFENIC_TAP:?set by run-guest.sh}" "${SAFENIC_CONSOLE:?set by run-guest.sh}"

wait_ready() {
    waited=0
    while [ $waited -lt $((READY_TIMEOUT * 5)) ]; do
        grep -q 'GUEST-READY-RESPOND' "$SAFENIC_CONSOLE" && return 0
        grep -q 'SCENARIO-EXIT:' "$SAFENIC_CONSOLE" && return 1
        sleep 0.2
        waited=$((waited + 1))
    done
    return 1
}


ping4() {
    out=$(ping -c 5 -i 0.2 -w 30 "$GUEST_IP" 2>&1)
    rc=$?
    echo "$out" | sed 's/^/    /'
    [ $rc -eq 0 ] && echo "$out" | grep -q ' 5 received'
}

arping4() {
    out=$(arping -c 3 -w 30 -I "$SAFENIC_TAP" "$GUEST_IP" 2>&1)
    rc=$?
    echo "$out" | sed 's/^/    /'
    [ $rc -eq 0 ] && echo "$out" | grep -q 'Received 3 response'
}

ping6() {
    out=$(ping -6 -c 5 -i 0.2 -w 30 "$GUEST_IP6" 2>&1)
    rc=$?
    echo "$out" | sed 's/^/    /'
    [ $rc -eq 0 ] && echo "$out" | grep -q ' 5 received'
}

ip addr add "$HOST_IP/24" dev "$SAFENIC_TAP"
sysctl -qw net.ipv6.conf.all.disable_ipv6=0 "net.ipv6.conf.$SAFENIC_TAP.disable_ipv6=0"
ip -6 addr add "$HOST_IP6/64" dev "$SAFENIC_TAP" nodad
echo "host-respond: $SAFENIC_TAP has $(ip -brief addr show dev "$SAFENIC_TAP")"

if ! wait_ready; then
    echo "host-respond: the guest never printed GUEST-READY-RESPOND"
    echo "HOST-RESULT ping=FAIL arping=FAIL ping6=FAIL (guest not ready)"
    exit 1
fi
echo "host-respond: guest is ready"
P4=FAIL A4=FAIL P6=FAIL
echo "host-respond: \$ ping -c 5 -i 0.2 -w 30 $GUEST_IP"
ping4 && P4=ok
echo "host-respond: \$ arping -c 3 -w 30 -I $SAFENIC_TAP $GUEST_IP"
arping4 && A4=ok
echo "host-respond: \$ ping -6 -c 5 -i 0.2 -w 30 $GUEST_IP6"
ping6 && P6=ok
echo "host-respond: neighbours: $(ip neigh show dev "$SAFENIC_TAP" | tr '\n' ';')"
echo "HOST-RESULT ping=$P4 arping=$A4 ping6=$P6"
[ $P4 = ok ] && [ $A4 = ok ] && [ $P6 = ok ]
