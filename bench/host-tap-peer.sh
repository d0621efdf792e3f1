#!/bin/sh
# Host side of the tap-peer (and selftest-tap) scenarios; run-guest.sh starts
# it inside the test's network namespace via --host-hook, before QEMU, with
# SAFENIC_TAP and SAFENIC_CONSOLE set.
#
#   host-tap-peer.sh --sniff-count N | --min-foreign K
#                    --send-count M [--send-rate PPS] [--ready-timeout SEC]
#
# 1. sniffs the tap while the guest transmits (host-peer.py sniff);
# 2. waits for the guest's GUEST-READY-RECV line on the console, then stops
#    the sniffer (the guest has finished sending by then) and prints its
#    HOST-SNIFF line;
# 3. sends M generator frames to the guest (host-peer.py send).
# Exit 0 only if the sniffer was satisfied, the guest got ready and all
# frames were sent.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
SNIFF_ARGS=""
SEND_COUNT=0
SEND_RATE=1000
READY_TIMEOUT=240

while [ $# -gt 0 ]; do
    case $1 in
        --sniff-count) SNIFF_ARGS="$SNIFF_ARGS --count $2"; shift 2 ;;
        --min-foreign) SNIFF_ARGS="$SNIFF_ARGS --min-foreign $2"; shift 2 ;;
        --send-count) SEND_COUNT=$2; shift 2 ;;
        --send-rate) SEND_RATE=$2; shift 2 ;;
        --ready-timeout) READY_TIMEOUT=$2; shift 2 ;;
        *) echo "host-tap-peer: unknown argument '$1'"; exit 2 ;;
    esac
done
: "${SAFENIC_TAP:?set by run-guest.sh}" "${SAFENIC_CONSOLE:?set by run-guest.sh}"

# wait_ready: true once the guest printed GUEST-READY-RECV; false when the
# guest ended (SCENARIO-EXIT) or READY_TIMEOUT passed.
wait_ready() {
    waited=0
    while [ $waited -lt $((READY_TIMEOUT * 5)) ]; do
        grep -q 'GUEST-READY-RECV' "$SAFENIC_CONSOLE" && return 0
        grep -q 'SCENARIO-EXIT:' "$SAFENIC_CONSOLE" && return 1
        sleep 0.2
        waited=$((waited + 1))
    done
    return 1
}

echo "host-tap-peer: sniffing $SAFENIC_TAP ($SNIFF_ARGS)"
# shellcheck disable=SC2086  # SNIFF_ARGS holds separate words
python3 "$BENCH_DIR/host-peer.py" sniff "$SAFENIC_TAP" $SNIFF_ARGS \
    --timeout $((READY_TIMEOUT + 30)) &
SNIFF_PID=$!

READY=0
wait_ready && READY=1
[ $READY -eq 1 ] && echo "host-tap-peer: guest is ready to receive" ||
    echo "host-tap-peer: the guest never printed GUEST-READY-RECV"
sleep 1   # frames still inside QEMU reach the tap
kill -INT $SNIFF_PID 2>/dev/null
wait $SNIFF_PID
SNIFF_RC=$?

SEND_RC=1
if [ $READY -eq 1 ]; then
    python3 "$BENCH_DIR/host-peer.py" send "$SAFENIC_TAP" --count "$SEND_COUNT" \
        --rate "$SEND_RATE"
    SEND_RC=$?
fi
echo "host-tap-peer: sniff_rc=$SNIFF_RC send_rc=$SEND_RC ready=$READY"
[ $SNIFF_RC -eq 0 ] && [ $SEND_RC -eq 0 ]
