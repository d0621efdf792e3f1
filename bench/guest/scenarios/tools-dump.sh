#!/bin/sh
# tools-dump: `safenic dump` captures what `safenic gen` sends over a cable,
# and the host reads the files back with tshark (bench/run-tools.sh copies
# them out of the console). chain4 topology, virtio behind the IOMMU:
#   NIC1 (gen) <-hub 0-> NIC2 (dump)    NIC3 (gen) <-hub 1-> NIC4 (recv)
# Cases, each leaving a file the host checks against a PCAP-EXPECT line:
#   count     dump --count 1200 --json: 1000 frames of 60 bytes and 200 of
#             1000 bytes; stops by itself
#   snaplen   --snaplen 100 --nano: 100 frames of 500 bytes
#   sigint    no limit; 300 frames, then SIGINT
#   sigterm   no limit; SIGTERM while frames arrive (5000 pps): the file
#             holds exactly the frames the summary counts, all complete
#   full      on a 256 KiB tmpfs: 1000 frames of 1000 bytes fill it; dump
#             stops with status 1 and one line naming the problem and the
#             fix, the file is cut to whole records
# and gen --json -> recv --json on NIC3/NIC4, whose JSON Lines the host
# parses (as it does dump's).
. /lib/safenic-bench/lib.sh
. /scenarios/tools-lib.sh

NAME=tools-dump
READY=30
DUMP_PID=""

# start_dump NAME DUMP-ARGS...: starts dump on NIC2 (logs NAME.out and
# NAME.err) and waits until it runs; false, with a failed check, if not.
start_dump() {
    local name=$1
    shift
    start_split "$name" safenic dump "$NIC2" "$@"
    DUMP_PID=$BG_PID
    if ! wait_started "$name" "$DUMP_PID" "$READY"; then
        echo "$NAME: dump ($name) did not start"
        show_split "$name"
        check "${name}_started" no yes
        return 1
    fi
    return 0
}

# send COUNT SIZE [RATE]: gen on NIC1, waits for it.
send() {
    safenic gen "$NIC1" --count "$1" --size "$2" --rate "${3:-2000}" \
        --dst-mac "$MAC2" > /tmp/gen.log 2>&1
    check "gen_${1}x$2" "$?" 0
}

echo "$NAME: hugepages=$(cat /proc/sys/vm/nr_hugepages)"

# --- count ---------------------------------------------------------------
if start_dump count -w /tmp/count.pcap --count 1200 --json; then
    send 1000 60
    send 200 1000
    wait_exit "$DUMP_PID" 30 "dump count"
    check count_exit "$?" 0
    show_split count
    check count_frames "$(split_summary count dump frames)" 1200
    check count_stopped "$(split_summary count dump stopped)" count
    emit_json count
    echo "PCAP-EXPECT count frames=1200 bytes=260000 caplen=full udp=1200"
    emit_pcap count /tmp/count.pcap
fi

# --- snaplen, nanosecond timestamps ----------------------------------------
if start_dump snaplen -w /tmp/snaplen.pcap --count 100 --snaplen 100 --nano; then
    send 100 500
    wait_exit "$DUMP_PID" 30 "dump snaplen"
    check snaplen_exit "$?" 0
    show_split snaplen
    check snaplen_truncated "$(split_summary snaplen dump truncated)" 100
    echo "PCAP-EXPECT snaplen frames=100 bytes=50000 caplen=100 nano=1 udp=100"
    emit_pcap snaplen /tmp/snaplen.pcap
fi

# --- SIGINT after the frames ----------------------------------------------
if start_dump sigint -w /tmp/sigint.pcap; then
    send 300 60
    sleep 1
    stop_pid "$DUMP_PID" "dump sigint" 10
    check sigint_exit "$?" 0
    check sigint_stopped_by_sigint "$STOP_ESCALATED" 0
    show_split sigint
    check sigint_frames "$(split_summary sigint dump frames)" 300
    echo "PCAP-EXPECT sigint frames=300 bytes=18000 caplen=full udp=300"
    emit_pcap sigint /tmp/sigint.pcap
fi

# --- SIGTERM while frames arrive -------------------------------------------
if start_dump sigterm -w /tmp/sigterm.pcap; then
    safenic gen "$NIC1" --count 50000 --rate 5000 --size 100 --dst-mac "$MAC2" \
        > /tmp/gen-bg.log 2>&1 &
    GEN_PID=$!
    sleep 3
    kill -TERM "$DUMP_PID"
    wait_exit "$DUMP_PID" 20 "dump sigterm"
    check sigterm_exit "$?" 0
    stop_pid "$GEN_PID" gen 5 > /dev/null
    show_split sigterm
    FRAMES=$(split_summary sigterm dump frames)
    check sigterm_stopped "$(split_summary sigterm dump stopped)" signal
    check sigterm_got_some "$([ "${FRAMES:-0}" -gt 0 ] 2>/dev/null && echo yes)" yes
    echo "PCAP-EXPECT sigterm frames=$FRAMES bytes=$((FRAMES * 100)) caplen=full"
    emit_pcap sigterm /tmp/sigterm.pcap
fi

# --- the disk fills up during the capture ----------------------------------
mkdir -p /mnt/tiny
mount -t tmpfs -o size=256k tmpfs /mnt/tiny
if start_dump full -w /mnt/tiny/full.pcap; then
    safenic gen "$NIC1" --count 1000 --rate 2000 --size 1000 --dst-mac "$MAC2" \
        > /tmp/gen-full.log 2>&1
    wait_exit "$DUMP_PID" 30 "dump full"
    check full_exit "$?" 1
    show_split full
    ERRLINES=$(grep -c '^safenic dump:' "$LOG_DIR/full.err")
    check full_one_error_line "$ERRLINES" 1
    check full_names_problem "$(grep -c 'No space left on device' "$LOG_DIR/full.err")" 1
    check full_names_fix "$(grep -c 'free some space' "$LOG_DIR/full.err")" 1
    FRAMES=$(split_summary full dump frames)
    check full_stopped "$(split_summary full dump stopped)" write-error
    check full_partial "$([ "${FRAMES:-0}" -gt 100 ] 2>/dev/null && [ "$FRAMES" -lt 1000 ] && echo yes)" yes
    # The file is exactly the header and FRAMES whole records.
    check full_file_size "$(wc -c < /mnt/tiny/full.pcap)" $((24 + FRAMES * 1016))
    echo "PCAP-EXPECT full frames=$FRAMES bytes=$((FRAMES * 1000)) caplen=full"
    emit_pcap full /mnt/tiny/full.pcap
fi
umount /mnt/tiny

# --- JSON Lines from gen and recv ------------------------------------------
start_split recv-json safenic recv "$NIC4" --expect 500 --json --idle-timeout 10
RECV_PID=$BG_PID
if wait_started recv-json "$RECV_PID" "$READY"; then
    start_split gen-json safenic gen "$NIC3" --count 500 --rate 200 --json \
        --dst-mac "$MAC4"
    wait_exit "$BG_PID" 60 "gen json"
    check gen_json_exit "$?" 0
    wait_exit "$RECV_PID" 30 "recv json"
    check recv_json_exit "$?" 0
else
    stop_pid "$RECV_PID" recv 5
    check recv_json_started no yes
fi
show_split gen-json
show_split recv-json
check gen_json_final "$(json_value gen-json tx_packets)" 500
check recv_json_final "$(json_value recv-json valid)" 500
emit_json gen-json
emit_json recv-json

verdict "$NAME" "count=$(split_summary count dump frames)" \
    "snaplen=$(split_summary snaplen dump frames)" \
    "sigint=$(split_summary sigint dump frames)" \
    "sigterm=$(split_summary sigterm dump frames)" \
    "full=$(split_summary full dump frames)"
