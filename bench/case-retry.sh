# Sourced by run-scenarios.sh and run-tools.sh: a failed guest case boots
# once more. An emulated guest on a shared two-core machine sometimes
# fails for the bench's own reasons (QEMU aborting in iotlb_to_section, a
# guest frozen from one step on; see "A loaded host" in README.md); a
# case that then passes is reported FLAKY, with the first attempt's
# numbers and its console kept, and does not fail the run. Two failures
# fail.
#
# The sourcing script defines attempt NAME ARGS..., which boots the case
# once and sets ATTEMPT_RESULT (PASS or FAIL), ATTEMPT_FAULTS and
# ATTEMPT_NUMBERS, and sets LOG_DIR, RETRIES, RESULTS and EXCERPTS.

# The end of a failed attempt's console: the guest's own lines (what the
# scenario printed), not the kernel's, and QEMU's last complaint.
case_excerpt() { # TITLE CONSOLE_LOG
    echo "--- $1: the last lines the guest printed ($2)"
    tr -d '\r' < "$2" 2>/dev/null | grep -v '^\[ *[0-9]*\.[0-9]*\] ' | tail -n 15 | sed 's/^/    /'
    tr -d '\r' < "$2" 2>/dev/null | grep -m1 -E 'Kernel panic' | sed 's/^/    kernel: /'
    [ ! -s "$2.qemu-stderr" ] || grep -v 'is not connected to host network' "$2.qemu-stderr" |
        tail -n 3 | sed 's/^/    qemu: /'
    [ ! -s "$2.silence" ] || sed 's/^/    run-guest: /' "$2.silence"
}

# Keeps a failed attempt's logs under NAME.failed-N.* before the next boot.
keep_failed_logs() { # NAME N
    local f
    for f in "$LOG_DIR/$1".console.log "$LOG_DIR/$1".console.log.* "$LOG_DIR/$1".host.log; do
        [ -f "$f" ] || continue
        mv -f "$f" "${f/$LOG_DIR\/$1./$LOG_DIR/$1.failed-$2.}"
    done
}

# run_with_retries NAME ARGS...: attempt, and again while it fails, up to
# RETRIES more times; appends the row to RESULTS.
run_with_retries() {
    local name=$1 first="" tries=0
    attempt "$@"
    while [ "$ATTEMPT_RESULT" != PASS ] && [ "$tries" -lt "$RETRIES" ]; do
        tries=$((tries + 1))
        keep_failed_logs "$name" "$tries"
        EXCERPTS+=("$(case_excerpt "$name (attempt $tries)" "$LOG_DIR/$name.failed-$tries.console.log")")
        first="${first}attempt $tries: $ATTEMPT_NUMBERS (DMAR ${ATTEMPT_FAULTS:-?}); "
        echo "$name failed; booting it once more"
        attempt "$@"
    done
    if [ -n "$first" ] && [ "$ATTEMPT_RESULT" = PASS ]; then
        ATTEMPT_RESULT=FLAKY
        ATTEMPT_NUMBERS="$ATTEMPT_NUMBERS || ${first% }"
    elif [ "$ATTEMPT_RESULT" != PASS ]; then
        EXCERPTS+=("$(case_excerpt "$name" "$LOG_DIR/$name.console.log")")
        [ -z "$first" ] || ATTEMPT_NUMBERS="$ATTEMPT_NUMBERS || ${first% }"
    fi
    RESULTS+=("$name|$ATTEMPT_RESULT|${ATTEMPT_FAULTS:-?}|$ATTEMPT_NUMBERS")
}

# The excerpts, then a note on FLAKY rows (print_table's helpers).
print_excerpts() {
    local excerpt
    for excerpt in "${EXCERPTS[@]}"; do
        echo
        echo "$excerpt"
    done
}

flaky_note() { # number of FLAKY rows
    [ "$1" -eq 0 ] ||
        echo "FLAKY: $1 case(s) failed once and passed when booted again; the failed" \
             "attempts' logs are the *.failed-N.* files"
}
