#!/bin/sh
# Host side of the tools-respond scenario; bench/run-tools.sh starts it
# through run-guest.sh --host-hook, inside the test's network namespace,
# with SAFENIC_TAP (the tap wired to the guest's NIC1) and SAFENIC_CONSOLE.
#
# Gives the tap 10.0.0.2/24 and fd5a:fe::2/64 (IPv6, which run-guest.sh
# turns off on the tap, is turned back on here, for this namespace only),
# waits for the guest's GUEST-READY-RESPOND, then runs Linux's own tools
# against `safenic respond` in the guest:
#   ping -c 5 10.0.0.1, arping -c 3 10.0.0.1, ping -6 -c 5 fd5a:fe::1,
#   ping -6 -c 5 fe80::5a:feff:fe00:1%TAP (the guest NIC's link-local
#   address, from its MAC 02:5a:fe:00:00:01), and one ping each whose
#   request arrives in fragments (ping -s 1473, ping -6 -s 1453 over the
#   tap's 1500-byte MTU), which respond does not reassemble: no reply
# Prints every tool's transcript, then one line
#   HOST-RESULT ping=ok|FAIL arping=ok|FAIL ping6=ok|FAIL ping6ll=ok|FAIL
#               fragmented=unanswered|ANSWERED
# and exits 0 only if every ping got every reply and the fragmented ones
# none.
set -u

GUEST_IP=10.0.0.1
HOST_IP=10.0.0.2
GUEST_IP6=fd5a:fe::1
GUEST_LL=fe80::5a:feff:fe00:1
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

ping6ll() {
    out=$(ping -6 -c 5 -i 0.2 -w 30 "$GUEST_LL%$SAFENIC_TAP" 2>&1)
    rc=$?
    echo "$out" | sed 's/^/    /'
    [ $rc -eq 0 ] && echo "$out" | grep -q ' 5 received'
}

# A ping whose request does not fit the MTU: sent in fragments, which
# respond counts and does not answer (see safenic respond --help).
fragmented() { # ping arguments
    out=$(ping "$@" -c 1 -w 3 2>&1)
    echo "$out" | sed 's/^/    /'
    echo "$out" | grep -q ' 0 received'
}

ip addr add "$HOST_IP/24" dev "$SAFENIC_TAP"
sysctl -qw net.ipv6.conf.all.disable_ipv6=0 "net.ipv6.conf.$SAFENIC_TAP.disable_ipv6=0"
ip -6 addr add "$HOST_IP6/64" dev "$SAFENIC_TAP" nodad
echo "host-respond: $SAFENIC_TAP has $(ip -brief addr show dev "$SAFENIC_TAP")"

if ! wait_ready; then
    echo "host-respond: the guest never printed GUEST-READY-RESPOND"
    echo "HOST-RESULT ping=FAIL arping=FAIL ping6=FAIL ping6ll=FAIL fragmented=? (guest not ready)"
    exit 1
fi
echo "host-respond: guest is ready"
P4=FAIL A4=FAIL P6=FAIL PLL=FAIL FR=ANSWERED
echo "host-respond: \$ ping -c 5 -i 0.2 -w 30 $GUEST_IP"
ping4 && P4=ok
echo "host-respond: \$ arping -c 3 -w 30 -I $SAFENIC_TAP $GUEST_IP"
arping4 && A4=ok
echo "host-respond: \$ ping -6 -c 5 -i 0.2 -w 30 $GUEST_IP6"
ping6 && P6=ok
echo "host-respond: \$ ping -6 -c 5 -i 0.2 -w 30 $GUEST_LL%$SAFENIC_TAP"
ping6ll && PLL=ok
echo "host-respond: \$ ping -s 1473 -c 1 -w 3 $GUEST_IP; ping -6 -s 1453 -c 1 -w 3 $GUEST_IP6"
fragmented -s 1473 "$GUEST_IP" && fragmented -6 -s 1453 "$GUEST_IP6" && FR=unanswered
echo "host-respond: neighbours: $(ip neigh show dev "$SAFENIC_TAP" | tr '\n' ';')"
echo "HOST-RESULT ping=$P4 arping=$A4 ping6=$P6 ping6ll=$PLL fragmented=$FR"
[ $P4 = ok ] && [ $A4 = ok ] && [ $P6 = ok ] && [ $PLL = ok ] && [ $FR = unanswered ]
