#!/bin/sh
# Helpers for the tools-* scenarios (bench/run-tools.sh), sourced after
# /lib/safenic-bench/lib.sh. Not a scenario itself. The lines they print
# for the host (run-tools.sh and bench/tools-check.py read them):
#   PCAP-BEGIN NAME SHA256 BYTES / base64 of gzip / PCAP-END NAME
#                         a capture file, copied out over the console
#   PCAP-EXPECT NAME key=value...
#                         what tshark must read back from it
#   JSONL NAME {...}      one JSON Lines record a command printed
#   ERRCASE NAME PASS|FAIL exit=N: MESSAGE
#                         one row of the bad-input table
if [ "$(basename "$0")" = tools-lib.sh ]; then
    echo "tools-lib.sh holds helpers for the tools-* scenarios; it is not one"
    echo "VERDICT tools-lib FAIL not-a-scenario"
    exit 1
fi

# start_split NAME PROGRAM ARGS...: like start_bg, but stdout goes to
# $LOG_DIR/NAME.out and stderr to $LOG_DIR/NAME.err (JSON on stdout only).
start_split() {
    local name=$1
    shift
    mkdir -p "$LOG_DIR"
    : > "$LOG_DIR/$name.out"
    echo "+ $*" > "$LOG_DIR/$name.err"
    "$@" > "$LOG_DIR/$name.out" 2>> "$LOG_DIR/$name.err" &
    BG_PID=$!
}

# wait_started NAME PID SECONDS: true once NAME's stdout has its first
# per-second line: a JSON record with --json, else a rate line
# ("[  1s] ..."). Both come after the device is set up, a second into the
# run. False when PID died first or after SECONDS.
wait_started() {
    local ticks=0
    while [ $ticks -lt $(($3 * 5)) ]; do
        grep -Eq '^(\{|\[ *[0-9]+s\])' "$LOG_DIR/$1.out" 2>/dev/null && return 0
        alive "$2" || return 1
        sleep 0.2
        ticks=$((ticks + 1))
    done
    return 1
}

# json_value NAME KEY: KEY's integer value in NAME's last JSON record.
json_value() {
    local v
    v=$(grep '^{' "$LOG_DIR/$1.out" 2>/dev/null | tail -1 |
        sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p")
    echo "${v:-missing}"
}

# split_summary NAME KIND KEY: summary_value for start_split logs.
split_summary() {
    local v
    v=$(cat "$LOG_DIR/$1.out" "$LOG_DIR/$1.err" 2>/dev/null | grep "^SUMMARY $2 " |
        tail -1 | tr ' ' '\n' | sed -n "s/^$3=//p" | tail -1)
    echo "${v:-missing}"
}

# show_split NAME: both streams of NAME, prefixed.
show_split() {
    sed "s/^/[$1] /" "$LOG_DIR/$1.err" 2>/dev/null
    sed "s/^/[$1] /" "$LOG_DIR/$1.out" 2>/dev/null | grep -v '^\[[^]]*\] {'
}

# emit_json NAME: NAME's JSON records for the host to check.
emit_json() {
    grep '^{' "$LOG_DIR/$1.out" 2>/dev/null | sed "s/^/JSONL $1 /"
}

# emit_pcap NAME FILE: the capture file, gzip'ed and base64'ed, with its
# checksum, between marker lines.
emit_pcap() {
    local sum bytes
    if [ ! -f "$2" ]; then
        echo "PCAP-MISSING $1 $2"
        return
    fi
    sum=$(sha256sum "$2" | cut -d' ' -f1)
    bytes=$(wc -c < "$2")
    echo "PCAP-BEGIN $1 $sum $bytes"
    gzip -c "$2" | base64
    echo "PCAP-END $1"
}

# errcase NAME STATUS PROBLEM FIX -- PROGRAM ARGS...: runs the program;
# it must exit with STATUS, print PROBLEM and FIX on stderr, and (for
# status 1) exactly one line there, not counting the "safenic: " lines of
# the library (warnings) and of --unsafe (its banner). Prints an ERRCASE
# row; a failure also
# fails the scenario's verdict.
errcase() {
    local name=$1 want=$2 problem=$3 fix=$4 rc lines result=PASS
    shift 5
    "$@" > /tmp/errcase.out 2> /tmp/errcase.err < /dev/null
    rc=$?
    lines=$(grep -vc '^safenic: ' /tmp/errcase.err)
    if [ "$rc" != "$want" ] || ! grep -qF -- "$problem" /tmp/errcase.err ||
       ! grep -qF -- "$fix" /tmp/errcase.err ||
       { [ "$want" = 1 ] && [ "$lines" != 1 ]; }; then
        result=FAIL
        FAILED_CHECKS="$FAILED_CHECKS err-$name"
        sed 's/^/  stderr: /' /tmp/errcase.err
        sed 's/^/  stdout: /' /tmp/errcase.out | head -5
    fi
    ERRCASES=$((ERRCASES + 1))
    echo "ERRCASE $name $result exit=$rc: $(grep -v '^safenic: ' /tmp/errcase.err | head -1)"
}
ERRCASES=0
