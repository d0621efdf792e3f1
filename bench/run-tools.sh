#!/bin/bash
# Run the guest tests of the safenic tools (dump, respond, bind/unbind,
# hugepages, --json, bad input) against a static safenic build, one guest
# at a time, and print a table. Exit 0 only if every case passed.
#
#   bench/run-tools.sh [options] BUILD_DIR_OR_BINARY
#
# BUILD_DIR_OR_BINARY: the static safenic executable, or a build directory
# holding src/cli/safenic. Prerequisite: bench/install-deps.sh (as root;
# it installs tshark, ping and arping for the host side).
#
# Options:
#   --only A,B      run only the named cases
#   --logs DIR      log folder (default build/tools-logs)
#   --live          show each guest's console as it runs
#   --retries N     boot a failed case up to N more times (default 1; see
#                   bench/case-retry.sh): one that then passes is FLAKY
#
# Cases (scenarios in bench/guest/scenarios/, helpers in tools-lib.sh):
#   tools-dump      dump to pcap: --count, --snaplen/--nano, SIGINT, SIGTERM
#                   mid-capture, a disk that fills up; gen/recv/dump --json.
#                   The host decodes each capture from the console and reads
#                   it back with tshark (bench/tools-check.py): frame count
#                   and bytes must match what gen sent.
#   tools-respond   respond on a tap: the host's ping, arping and ping -6
#                   (bench/host-respond.sh, in the test's namespace) get
#                   every reply; respond --json
#   tools-bind      bind/unbind against the guest kernel's virtio-net driver
#                   (refusals, --force, --user); a plain user runs gen, fwd
#                   (--json) and recv; unbind gives the NICs back
#   tools-errors    bad input that needs a device: in use, no such device,
#                   unwritable capture files, huge pages, not root
#   tools-noiommu   a guest without an IOMMU: every command names the fix;
#                   unsafe mode without huge pages; dump --unsafe
# Every case must also end with DMAR-FAULTS: 0, and every JSON Lines record
# the guest printed must pass tools-check.py json.
#
# Capture files leave the guest through its console: the guest prints them
# gzip'ed and base64'ed between PCAP-BEGIN/PCAP-END lines with a SHA-256,
# and tools-check.py decodes and verifies them. That needs nothing beyond
# the serial console run-guest.sh already records (no 9p or virtio-serial
# device, no tshark in the guest), and the copies are small (a few hundred
# KiB before compression).
#
# Only one of our QEMU guests runs at a time: run-guest.sh holds the
# bench lock (/tmp/safenic-guest.lock, flock) while its guest runs.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
CASE_TIMEOUT=300

ONLY="" LOG_DIR=$REPO_DIR/build/tools-logs LIVE="" SAFENIC=""
RESULTS=()
ERRROWS=()
EXCERPTS=()
RETRIES=1
. "$BENCH_DIR/case-retry.sh"

die() { echo "run-tools: ERROR: $*" >&2; exit 2; }
say() { echo "run-tools: $*"; }

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --only) ONLY=$2; shift 2 ;;
            --logs) LOG_DIR=$2; shift 2 ;;
            --live) LIVE=--live; shift ;;
            --retries) RETRIES=$2; shift 2 ;;
            -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            -*) die "unknown option '$1' (see --help)" ;;
            *) SAFENIC=$1; shift ;;
        esac
    done
    [ -n "$SAFENIC" ] || die "give the safenic binary or its build directory (see --help)"
    [ ! -d "$SAFENIC" ] || SAFENIC=$SAFENIC/src/cli/safenic
    [ -f "$SAFENIC" ] || die "no safenic binary at '$SAFENIC' (build it statically first)"
    mkdir -p "$LOG_DIR"
    LOG_DIR=$(cd "$LOG_DIR" && pwd)
    command -v tshark >/dev/null || die "tshark missing; run bench/install-deps.sh"
    command -v python3 >/dev/null || die "python3 missing; run bench/install-deps.sh"
}

wanted() {
    [ -z "$ONLY" ] || case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac
}

console_value() {
    tr -d '\r' < "$1" 2>/dev/null | sed -n "s/^$2//p" | tail -1
}

# guest ARGS...: run-guest.sh, which waits for the bench lock (one of our
# guests at a time) before it boots.
guest() {
    "$BENCH_DIR/run-guest.sh" "$@"
}

# attempt NAME RUN-GUEST-ARGS...: boot one guest, judge it and the host
# checks; sets ATTEMPT_RESULT, ATTEMPT_FAULTS and ATTEMPT_NUMBERS.
attempt() {
    local name=$1 rc=0 log verdict faults host check_rc=0 checks
    shift
    log=$LOG_DIR/$name.console.log
    guest --initrd "$INITRD" --log "$log" --timeout "$CASE_TIMEOUT" $LIVE "$@" || rc=$?
    verdict=$(console_value "$log" "VERDICT [^ ]* ")
    faults=$(console_value "$log" "DMAR-FAULTS: ")
    ATTEMPT_RESULT=${verdict%% *}
    ATTEMPT_NUMBERS=${verdict#* }
    ATTEMPT_FAULTS=$faults
    [ -n "$verdict" ] || { ATTEMPT_RESULT=FAIL; ATTEMPT_NUMBERS="no verdict (run-guest exit $rc)"; }
    [ "$rc" -eq 0 ] || ATTEMPT_RESULT=FAIL
    [ "$faults" = 0 ] || ATTEMPT_RESULT=FAIL
    # The host's own checks: captures through tshark, JSON Lines.
    checks=$(python3 "$BENCH_DIR/tools-check.py" pcap "$log" "$LOG_DIR/$name-pcaps" &&
             python3 "$BENCH_DIR/tools-check.py" json "$log") || check_rc=$?
    [ -z "$checks" ] || echo "$checks" | sed 's/^/run-tools:   /'
    echo "$checks" > "$LOG_DIR/$name.host-checks.log"
    [ "$check_rc" -eq 0 ] || { ATTEMPT_RESULT=FAIL; ATTEMPT_NUMBERS="$ATTEMPT_NUMBERS | host checks FAILED"; }
    if echo "$checks" | grep -q '^PCAP .* OK'; then
        ATTEMPT_NUMBERS="$ATTEMPT_NUMBERS | tshark: $(echo "$checks" | grep -c '^PCAP .* OK') files OK"
    fi
    if echo "$checks" | grep -q '^JSON '; then
        ATTEMPT_NUMBERS="$ATTEMPT_NUMBERS | json: $(echo "$checks" | grep -c '^JSON .* OK') OK"
    fi
    host=$(sed -n 's/^HOST-RESULT //p' "$LOG_DIR/$name.host.log" 2>/dev/null | tail -1)
    [ -z "$host" ] || ATTEMPT_NUMBERS="$ATTEMPT_NUMBERS | host: $host"
    say "$name: $ATTEMPT_RESULT (exit $rc, DMAR faults ${faults:-?})"
}

# run_case NAME RUN-GUEST-ARGS...: run a case (again if it fails:
# case-retry.sh), keep its ERRCASE rows, and append a row to RESULTS.
run_case() {
    local name=$1 line
    wanted "$name" || return 0
    say "=== $name"
    run_with_retries "$@"
    while IFS= read -r line; do
        ERRROWS+=("$name|$line")
    done < <(tr -d '\r' < "$LOG_DIR/$name.console.log" | sed -n 's/^ERRCASE //p')
}

tool_cases() {
    run_case tools-dump --scenario tools-dump --nic virtio
    run_case tools-respond --scenario tools-respond --nic virtio --topology tap1 \
        --host-hook "'$BENCH_DIR/host-respond.sh'"
    run_case tools-bind --scenario tools-bind --nic virtio --param bind=none
    run_case tools-errors --scenario tools-errors --nic virtio
    run_case tools-noiommu --scenario tools-noiommu --nic virtio-legacy --iommu off
}

print_table() {
    local row name result faults numbers failed=0 flaky=0 line case_name
    print_excerpts
    echo
    if [ ${#ERRROWS[@]} -gt 0 ]; then
        echo "Bad input in the guest (ERRCASE rows; the host's are the CTest cli_errors):"
        for row in "${ERRROWS[@]}"; do
            IFS='|' read -r case_name line <<< "$row"
            printf '  %-14s %s\n' "$case_name" "$line"
        done
        echo
    fi
    printf '%-16s %-7s %-6s %s\n' CASE RESULT DMAR NUMBERS
    for row in "${RESULTS[@]}"; do
        IFS='|' read -r name result faults numbers <<< "$row"
        printf '%-16s %-7s %-6s %s\n' "$name" "$result" "$faults" "$numbers"
        case $result in
            PASS) ;;
            FLAKY) flaky=$((flaky + 1)) ;;
            *) failed=$((failed + 1)) ;;
        esac
    done
    echo
    flaky_note "$flaky"
    echo "logs: $LOG_DIR"
    echo "tools: $((${#RESULTS[@]} - failed)) passed, $failed failed"
    return $((failed > 0))
}

main() {
    local start
    parse_args "$@"
    [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, taps)"
    INITRD=$LOG_DIR/initramfs.cpio.gz
    "$BENCH_DIR/build-initramfs.sh" "$SAFENIC" "$INITRD"
    start=$(date +%s)
    tool_cases
    [ ${#RESULTS[@]} -gt 0 ] || die "no case matched --only '$ONLY'"
    say "guest time: $(($(date +%s) - start)) s"
    print_table
}

main "$@"
