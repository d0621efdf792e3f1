#!/bin/sh
# faults: what a deployment meets, one after the other in one boot, on the
# chain4 topology with traffic flowing gen NIC1 -> fwd NIC2/NIC3 -> recv
# NIC4. The host acts through QEMU's monitor when the guest asks for it:
# the scenario prints "HOST-MONITOR <tag>: <command>" and bench/host-monitor.py
# (run-guest.sh --host-hook) sends the command at once.
#
# safenic.faults lists the tests to run, in order (comma-separated):
#   link    every cable pulled mid-traffic (set_link net1..net4 off), put
#           back 3 s later (on). gen, fwd (both ports) and recv must each
#           print "<BDF>: link down" and then "<BDF>: link up" for their
#           NICs, and go on: recv's valid count grows after the link came
#           back. Frames sent while the link was down are lost and counted:
#           recv lost = COUNT - received > 0, with nothing duplicated or
#           corrupted; gen sent all COUNT.
#   kill9   fwd killed with SIGKILL mid-traffic, a new fwd started on the
#           same NICs at once: it must come up (its first rate line within
#           READY_WAIT s) and forward the rest; nothing duplicated or
#           corrupted at recv; the frames of the gap are counted lost.
#   unplug  NIC4 (run-guest.sh --hotplug-nic 4: behind a PCIe root port)
#           removed with device_del while recv receives from gen on NIC3:
#           recv must say the device is gone within 1 s of the kernel's
#           request to release it (vfio-pci's "Relaying device request")
#           and exit with status 1; the device must then leave the guest's
#           PCI bus (nobody holds it back) within UNPLUG_WAIT s. Must be
#           the last test (NIC4 does not come back).
# run-scenarios.sh also requires DMAR-FAULTS: 0 for the whole boot: no
# device may DMA outside what the IOMMU maps, after a kill -9 either.
#
# Knobs: safenic.count (frames per test, 30000), safenic.rate (3000 pps),
# safenic.ready_wait (15 s).
. /lib/safenic-bench/lib.sh

NAME=faults
FAULTS=$(param faults link,kill9)
COUNT=$(param count 30000)
RATE=$(param rate 3000)
READY_WAIT=$(param ready_wait 15)
GEN_LIMIT=$((COUNT / RATE * 2 + 60))
IDLE=6
UNPLUG_WAIT=20
RESULT=""

# ask_host TAG COMMAND: the host's monitor runs COMMAND (host-monitor.py).
ask_host() {
    echo "HOST-MONITOR $1: $2"
}

uptime_ms() {
    awk '{ printf "%d", $1 * 1000 }' /proc/uptime
}

# expect_line LOG PATTERN SECONDS LABEL: LOG must get a line matching
# PATTERN within SECONDS; a check fails otherwise.
expect_line() {
    if wait_for_line "$LOG_DIR/$1.log" "$2" "$3"; then
        check "$4" yes yes
    else
        check "$4" "no line /$2/ in $1 within $3 s" yes
    fi
}

# recv_valid NAME: the valid count of recv's last rate line ("valid N").
recv_valid() {
    grep '^\[' "$LOG_DIR/$1.log" 2>/dev/null | tail -1 |
        sed -n 's/.*| valid \([0-9]*\) .*/\1/p'
}

# start_chain SUFFIX: recv on NIC4 (expects COUNT) and fwd NIC2 NIC3, both
# polling; then gen on NIC1 sending COUNT frames. RECV_PID, FWD_PID, GEN_PID.
start_chain() {
    local s=$1
    start_bg "recv$s" safenic recv "$NIC4" --expect "$COUNT" --idle-timeout "$IDLE"
    RECV_PID=$BG_PID
    start_bg "fwd$s" safenic fwd "$NIC2" "$NIC3"
    FWD_PID=$BG_PID
    if ! wait_running "recv$s" "$RECV_PID" "$READY_WAIT" ||
       ! wait_running "fwd$s" "$FWD_PID" "$READY_WAIT"; then
        check "startup$s" failed ok
        return 1
    fi
    start_bg "gen$s" safenic gen "$NIC1" --count "$COUNT" --rate "$RATE" \
        --src-mac "$MAC1" --dst-mac "$MAC4"
    GEN_PID=$BG_PID
    return 0
}

# finish_chain SUFFIX: gen ends by itself, recv after IDLE s without
# frames, fwd on SIGINT. GEN_RC, RECV_RC, FWD_RC.
finish_chain() {
    local s=$1
    wait_exit "$GEN_PID" "$GEN_LIMIT" "gen$s"
    GEN_RC=$?
    wait_exit "$RECV_PID" $((IDLE + 30)) "recv$s"
    RECV_RC=$?
    FWD_RC=none
    if [ -n "$FWD_PID" ]; then
        stop_pid "$FWD_PID" "fwd$s" 10
        FWD_RC=$?
    fi
}

stop_chain() {
    local pid
    for pid in $GEN_PID $FWD_PID $RECV_PID; do
        ! alive "$pid" || stop_pid "$pid" leftover 5 > /dev/null
    done
}

# judge_recv SUFFIX: nothing duplicated or corrupted; every frame gen sent
# either arrived intact or is counted lost; some were lost (the fault
# happened while frames flowed). Sets RECEIVED and LOST.
judge_recv() {
    local s=$1 sent valid dup corrupt
    sent=$(summary_value "gen$s" gen tx_packets)
    RECEIVED=$(summary_value "recv$s" recv rx_packets)
    valid=$(summary_value "recv$s" recv valid)
    LOST=$(summary_value "recv$s" recv lost)
    dup=$(summary_value "recv$s" recv duplicated)
    corrupt=$(summary_value "recv$s" recv corrupted)
    check "gen_exit$s" "$GEN_RC" 0
    check "sent$s" "$sent" "$COUNT"
    check "valid$s" "$valid" "$RECEIVED"
    check "duplicated$s" "$dup" 0
    check "corrupted$s" "$corrupt" 0
    case $RECEIVED$LOST in *[!0-9]*|'') check "recv_summary$s" missing present; return ;; esac
    check "received_plus_lost$s" $((RECEIVED + LOST)) "$COUNT"
    # recv --expect exits 1 when frames were lost, 0 when none were.
    if [ "$LOST" -gt 0 ]; then check "recv_exit$s" "$RECV_RC" 1; else check "recv_exit$s" "$RECV_RC" 0; fi
}

test_link() {
    local n dev log valid_up valid_end
    echo "$NAME: link: every cable pulled mid-traffic, put back 3 s later"
    start_chain -link || { stop_chain; return; }
    expect_line gen-link '^\[ *2s\]' 20 link_gen_running
    for n in 1 2 3 4; do
        ask_host "link-off-$n" "set_link net$n off"
    done
    for n in 1 2 3 4; do
        eval dev=\$NIC$n
        case $n in 1) log=gen-link ;; 4) log=recv-link ;; *) log=fwd-link ;; esac
        expect_line "$log" "^$dev: link down" 5 "link_down_nic$n"
    done
    sleep 3
    for n in 1 2 3 4; do
        ask_host "link-on-$n" "set_link net$n on"
    done
    for n in 1 2 3 4; do
        eval dev=\$NIC$n
        case $n in 1) log=gen-link ;; 4) log=recv-link ;; *) log=fwd-link ;; esac
        expect_line "$log" "^$dev: link up" 10 "link_up_nic$n"
    done
    valid_up=$(recv_valid recv-link)
    finish_chain -link
    judge_recv -link
    check fwd_exit_link "$FWD_RC" 0
    valid_end=$(summary_value recv-link recv valid)
    check link_lost_some "$([ "${LOST:-0}" -gt 0 ] 2>/dev/null && echo yes || echo no)" yes
    check link_resumed "$([ "${valid_end:-0}" -gt "${valid_up:-0}" ] 2>/dev/null && echo yes || echo no)" yes
    RESULT="$RESULT link: received=$RECEIVED lost=$LOST valid_at_up=$valid_up"
}

test_kill9() {
    local t0 t1 started=no forwarded
    echo "$NAME: kill9: fwd killed with SIGKILL mid-traffic, a new one started at once"
    start_chain -kill || { stop_chain; return; }
    expect_line gen-kill '^\[ *2s\]' 20 kill_gen_running
    kill -KILL "$FWD_PID"
    wait "$FWD_PID"
    check fwd_killed "$?" 137
    t0=$(uptime_ms)
    start_bg fwd-kill2 safenic fwd "$NIC2" "$NIC3"
    FWD_PID=$BG_PID
    wait_running fwd-kill2 "$FWD_PID" "$READY_WAIT" && started=yes
    t1=$(uptime_ms)
    check kill_restarted "$started" yes
    finish_chain -kill
    show_log fwd-kill2 | grep -v '^\[fwd-kill2\] \[' 
    judge_recv -kill
    check fwd_exit_kill "$FWD_RC" 0
    forwarded=$(summary_value fwd-kill2 fwd a_to_b)
    check kill_new_fwd_forwarded "$([ "${forwarded:-0}" -gt 0 ] 2>/dev/null && echo yes || echo no)" yes
    check kill_dmar_faults "$(dmesg | grep -i dmar | grep -ci fault)" 0
    RESULT="$RESULT | kill9: restart_ms=$((t1 - t0)) new_fwd=$forwarded received=$RECEIVED lost=$LOST"
}

# ms_between T1 T2: (T2 - T1) in whole milliseconds, for times in seconds
# with decimals; "unknown" when either is missing.
ms_between() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "unknown"; else printf "%d", (b - a) * 1000 }'
}

test_unplug() {
    local rc t_req="" t_seen="" t_exit="" ticks=0 report_ms exit_ms removed gen_rc
    echo "$NAME: unplug: NIC4 ($NIC4) removed with device_del under a receiving recv"
    start_bg recv-unplug safenic recv "$NIC4" --idle-timeout 0
    RECV_PID=$BG_PID
    if ! wait_running recv-unplug "$RECV_PID" "$READY_WAIT"; then
        check startup_unplug failed ok
        return
    fi
    # Traffic into NIC4 from its cable peer NIC3 while it goes.
    start_bg gen-unplug safenic gen "$NIC3" --count 1000000 --rate "$RATE" \
        --src-mac "$MAC3" --dst-mac "$MAC4"
    GEN_PID=$BG_PID
    expect_line recv-unplug '^\[ *2s\]' 20 unplug_recv_receiving
    ask_host unplug "device_del nic4"
    # Poll at 0.1 s: when recv says the device is gone, and when it ends.
    while [ $ticks -lt 300 ]; do
        if [ -z "$t_seen" ] && grep -q "$NIC4: .*gone" "$LOG_DIR/recv-unplug.log"; then
            t_seen=$(cut -d' ' -f1 /proc/uptime)
        fi
        if ! alive "$RECV_PID"; then
            t_exit=$(cut -d' ' -f1 /proc/uptime)
            break
        fi
        sleep 0.1
        ticks=$((ticks + 1))
    done
    [ -n "$t_seen" ] || ! grep -q "$NIC4: .*gone" "$LOG_DIR/recv-unplug.log" ||
        t_seen=$(cut -d' ' -f1 /proc/uptime)
    wait_exit "$RECV_PID" 5 recv-unplug
    rc=$?
    RECV_PID=""
    stop_pid "$GEN_PID" gen-unplug 5
    gen_rc=$?
    GEN_PID=""
    show_log recv-unplug | grep -v '^\[recv-unplug\] \['
    check unplug_recv_exit "$rc" 1
    check unplug_gen_exit "$gen_rc" 0
    check unplug_reported "$([ -n "$t_seen" ] && echo yes || echo no)" yes
    # The device leaves the bus once nobody holds it.
    ticks=0
    while [ -e "/sys/bus/pci/devices/$NIC4" ] && [ $ticks -lt $((UNPLUG_WAIT * 5)) ]; do
        sleep 0.2
        ticks=$((ticks + 1))
    done
    removed=$([ -e "/sys/bus/pci/devices/$NIC4" ] && echo no || echo yes)
    check unplug_device_removed "$removed" yes
    # From the kernel's request (vfio-pci: "Relaying device request to
    # user"; dmesg time) to recv's report and exit (guest uptime, the same
    # clock).
    t_req=$(dmesg | grep 'Relaying device request' | head -1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
    dmesg | grep -i 'device request' | sed 's/^/DMESG: /'
    report_ms=$(ms_between "$t_req" "$t_seen")
    exit_ms=$(ms_between "$t_req" "$t_exit")
    check unplug_request_seen "$([ -n "$t_req" ] && echo yes || echo no)" yes
    # recv asks every 0.1 s whether the kernel wants the device back
    # (session_poll_removal), so it reports well within the second the
    # issue allows, this loop's 0.1 s polling step included. (With only
    # the once-a-second health check, 748 to 1093 ms were measured.)
    check unplug_report_within_1s "$([ "$report_ms" != unknown ] && [ "$report_ms" -le 1000 ] && echo yes || echo "no ($report_ms ms)")" yes
    RESULT="$RESULT | unplug: recv_exit=$rc request_to_report_ms=$report_ms request_to_exit_ms=$exit_ms removed=$removed"
}

echo "$NAME: faults=$FAULTS count=$COUNT rate=$RATE iommu=$(have_iommu && echo on || echo off)"
GEN_PID="" FWD_PID="" RECV_PID=""
for fault in $(echo "$FAULTS" | tr ',' ' '); do
    case $fault in
        link) test_link ;;
        kill9) test_kill9 ;;
        unplug) test_unplug ;;
        *) check "unknown_fault_$fault" unknown known ;;
    esac
    stop_chain
    GEN_PID="" FWD_PID="" RECV_PID=""
done
for log in gen-link fwd-link recv-link gen-kill recv-kill; do
    grep -E 'link (up|down)|SUMMARY|stopping|error' "$LOG_DIR/$log.log" 2>/dev/null |
        sed "s/^/[$log] /"
done
verdict "$NAME" "$RESULT"
