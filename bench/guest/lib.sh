# Helpers shared by the guest's /init and the scenario scripts (busybox sh).
# Installed as /lib/safenic-bench/lib.sh; source it with ". ".

# --- Fixed NIC placement --------------------------------------------------
# run-guest.sh puts NIC n at PCI slot 3n (addr=0x3, 0x6, 0x9, 0xc): the igb
# model reserves the two slots at +16/+17 for its SR-IOV VFs, so NICs must
# be at least two slots apart and their VF slots (19..29) must stay free.
# The MACs are locally administered and distinct. Keep this table and the
# one in run-guest.sh in step.
# shellcheck disable=SC2034  # used by the scripts that source this file
NIC1=0000:00:03.0; MAC1=02:5a:fe:00:00:01
NIC2=0000:00:06.0; MAC2=02:5a:fe:00:00:02
NIC3=0000:00:09.0; MAC3=02:5a:fe:00:00:03
NIC4=0000:00:0c.0; MAC4=02:5a:fe:00:00:04

# Addresses of the tap1 topology: the guest is 10.0.0.1, host-peer.py is
# 10.0.0.2 on the test's own tap inside the test's own network namespace.
GUEST_IP=10.0.0.1
HOST_IP=10.0.0.2
HOST_MAC=02:00:00:00:00:02

LOG_DIR=/tmp/bench

# param NAME DEFAULT: value of safenic.NAME=... on the kernel command line.
param() {
    local word value
    value=$2
    for word in $(cat /proc/cmdline); do
        case $word in "safenic.$1="*) value=${word#*=} ;; esac
    done
    echo "$value"
}

# use_hotplug_nic: run-guest.sh --hotplug-nic N puts NIC n behind a PCIe
# root port, where the guest finds it on bus 1. Runs when this file is
# sourced with /proc mounted; /init calls it again after mounting /proc.
use_hotplug_nic() {
    local n
    n=$(param hotplug_nic "")
    case $n in [1-4]) eval "NIC$n=0000:01:00.0" ;; esac
}
[ ! -r /proc/cmdline ] || use_hotplug_nic

have_iommu() {
    [ -n "$(ls /sys/class/iommu 2>/dev/null)" ]
}

# start_bg NAME PROGRAM ARGS...: run PROGRAM in the background with its
# output in $LOG_DIR/NAME.log; the pid is left in BG_PID.
# A simple command put in the background is forked and exec'd directly, so
# $! is the program itself (unlike a backgrounded shell function).
start_bg() {
    local name=$1
    shift
    mkdir -p "$LOG_DIR"
    echo "+ $*" > "$LOG_DIR/$name.log"
    "$@" >> "$LOG_DIR/$name.log" 2>&1 &
    BG_PID=$!
}

# alive PID: true while PID exists and is not a zombie. (kill -0 succeeds
# on a zombie that the shell has not reaped yet.)
alive() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# wait_exit PID SECONDS NAME [GRACE]: wait for PID to exit; return its exit
# status. After SECONDS it is stopped (SIGINT, then SIGTERM, then SIGKILL,
# GRACE seconds apart, default 5) and the function returns 124, so no
# scenario can hang the guest.
wait_exit() {
    local pid=$1 limit=$2 name=$3 grace=${4:-5} ticks=0
    while alive "$pid"; do
        if [ $ticks -ge $((limit * 5)) ]; then
            echo "TIMEOUT: $name (pid $pid) still running after ${limit}s; stopping it"
            stop_pid "$pid" "$name" "$grace" > /dev/null
            return 124
        fi
        sleep 0.2
        ticks=$((ticks + 1))
    done
    wait "$pid"
}

# stop_pid PID NAME [GRACE]: SIGINT (the documented way to stop safenic),
# escalating to SIGTERM and SIGKILL after GRACE seconds each. Returns the
# program's exit status. Note: a non-interactive shell starts background
# jobs with SIGINT ignored; safenic must install its own handler.
# STOP_ESCALATED is 1 afterwards when SIGINT alone did not stop it.
stop_pid() {
    local pid=$1 name=$2 grace=${3:-10} sig ticks
    STOP_ESCALATED=0
    for sig in INT TERM KILL; do
        alive "$pid" || break
        if [ "$sig" != INT ]; then
            echo "NOTE: $name ignored the previous signal; sending SIG$sig"
            STOP_ESCALATED=1
        fi
        kill -"$sig" "$pid" 2>/dev/null
        ticks=0
        while alive "$pid" && [ $ticks -lt $((grace * 5)) ]; do
            sleep 0.2
            ticks=$((ticks + 1))
        done
    done
    wait "$pid"
}

# wait_for_line FILE PATTERN SECONDS: true once FILE has a line matching
# PATTERN (grep -E), false after SECONDS.
wait_for_line() {
    local ticks=0
    while [ $ticks -lt $(($3 * 5)) ]; do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.2
        ticks=$((ticks + 1))
    done
    return 1
}

# wait_running NAME PID SECONDS: true once safenic's log NAME shows its
# first per-second rate line ("[  1s] ..."), which it prints only after the
# device is set up; false when PID died first or after SECONDS.
wait_running() {
    local ticks=0
    while [ $ticks -lt $(($3 * 5)) ]; do
        grep -Eq '^\[ *[0-9]+s\]' "$LOG_DIR/$1.log" 2>/dev/null && return 0
        alive "$2" || return 1
        sleep 0.2
        ticks=$((ticks + 1))
    done
    echo "NOTE: $1 printed no rate line within $3 s"
    return 1
}

# show_log NAME: print $LOG_DIR/NAME.log with every line prefixed "[NAME] ".
show_log() {
    sed "s/^/[$1] /" "$LOG_DIR/$1.log" 2>/dev/null
}

# summary_value NAME KIND KEY: KEY's value in the "SUMMARY KIND k=v ..."
# line of $LOG_DIR/NAME.log; "missing" when there is none.
summary_value() {
    local value
    value=$(grep "^SUMMARY $2 " "$LOG_DIR/$1.log" 2>/dev/null | tail -1 |
        tr ' ' '\n' | sed -n "s/^$3=//p" | tail -1)
    echo "${value:-missing}"
}

# memory_kind NAME: the kind of DMA memory named by the start-up line
# ("DMA memory: ...") of $LOG_DIR/NAME.log: hugetlb, thp (every 2 MiB unit
# in a huge page), thp-partial, 4k, mixed (more than one kind), or missing.
memory_kind() {
    local line huge units
    line=$(tr -d '\r' 2>/dev/null < "$LOG_DIR/$1.log" | grep '^DMA memory: ' | tail -1)
    case $line in
        "") echo missing ;;
        *" + "*) echo mixed ;;
        "DMA memory: hugetlb "*) echo hugetlb ;;
        "DMA memory: 4 KiB pages,"*) echo 4k ;;
        "DMA memory: THP "*)
            huge=$(echo "$line" | sed -n 's/.*(\([0-9]*\) of [0-9]* units huge).*/\1/p')
            units=$(echo "$line" | sed -n 's/.*([0-9]* of \([0-9]*\) units huge).*/\1/p')
            if [ -n "$huge" ] && [ "$huge" = "$units" ]; then echo thp; else echo thp-partial; fi ;;
        *) echo unknown ;;
    esac
}

# pci_id BDF: the device's "vvvv:dddd" (vendor:device, hex, no 0x).
pci_id() {
    [ -e "/sys/bus/pci/devices/$1" ] || return 0   # not a PCI address (xdp:IFNAME)
    echo "$(sed 's/^0x//' "/sys/bus/pci/devices/$1/vendor"):$(sed 's/^0x//' "/sys/bus/pci/devices/$1/device")"
}

# intel_driver BDF: the safenic driver that must claim BDF when it is one of
# the Intel models run-guest.sh offers (igb 82576, e1000e 82574L); empty for
# any other NIC. Only these report link state from the NIC itself and keep
# hardware packet counters, so only they get the checks below.
intel_driver() {
    case $(pci_id "$1") in
        8086:10c9) echo igb ;;
        8086:10d3) echo e1000e ;;
    esac
}

# check_nic_line LOG N: safenic's log LOG must say, for NIC n, the line it
# prints when it opens a device:
#   "<BDF>: driver <name>, MAC <mac>, link up[, <speed>]"
# with the driver intel_driver expects and the MAC of the lib.sh table (QEMU
# loads it into the NIC's NVM/receive address 0, so this checks that the
# driver read it back). Counts checked NICs and NICs up in NIC_LINES and
# NICS_UP. Labels: LOG_nicN_driver, _mac, _link.
NIC_LINES=0
NICS_UP=0
check_nic_line() {
    local log=$1 n=$2 dev mac line driver seen_mac link
    eval dev=\$NIC$n mac=\$MAC$n
    line=$(grep "^$dev: driver " "$LOG_DIR/$log.log" 2>/dev/null | tail -1)
    driver=$(echo "$line" | sed -n 's/^[^ ]* driver \([^,]*\),.*/\1/p')
    seen_mac=$(echo "$line" | sed -n 's/.*, MAC \([^,]*\),.*/\1/p')
    # "up", "DOWN" (after safenic's wait) or "state" (state unknown).
    link=$(echo "$line" | sed -n 's/.*, link \([A-Za-z]*\).*/\1/p')
    check "${log}_nic${n}_driver" "${driver:-missing}" "$(intel_driver "$dev")"
    check "${log}_nic${n}_mac" "${seen_mac:-missing}" "$mac"
    check "${log}_nic${n}_link" "${link:-missing}" up
    NIC_LINES=$((NIC_LINES + 1))
    [ "$link" != up ] || NICS_UP=$((NICS_UP + 1))
}

# safenic_has_hw_keys: true when this safenic build can print the NIC's own
# counters (hw_rx_packets=, hw_tx_packets=, fwd's a_/b_ variants) in its
# SUMMARY lines; the key text is then in the binary.
safenic_has_hw_keys() {
    grep -q 'hw_rx_packets=' "$(command -v safenic)" 2>/dev/null
}

# check_hw LABEL LOG KIND KEY EXPECTED: the NIC's own counter KEY in the
# "SUMMARY KIND" line of LOG must equal EXPECTED, safenic's software count
# of the same frames. When the key is absent and this safenic build has no
# such keys at all, the check is skipped with a note and HW_STATUS becomes
# "unreported"; a build that has them must print them (absent = failure).
# HW_STATUS: "" (no check ran), "checked" or "unreported".
HW_STATUS=""
check_hw() {
    local value
    value=$(summary_value "$2" "$3" "$4")
    if [ "$value" = missing ] && ! safenic_has_hw_keys; then
        [ "$HW_STATUS" = unreported ] ||
            echo "NOTE: hw counters not reported: this safenic build prints no hw_* keys" \
                 "in its SUMMARY lines; the hardware counter checks are skipped"
        HW_STATUS=unreported
        return 0
    fi
    check "$1" "$value" "$5"
    [ "$HW_STATUS" = unreported ] || HW_STATUS=checked
}

# Verdict bookkeeping: check LABEL ACTUAL EXPECTED records a failure when
# they differ; verdict NAME prints the one-line result and returns 0/1.
FAILED_CHECKS=""
check() {
    if [ "$2" != "$3" ]; then
        echo "CHECK FAILED: $1 = $2, expected $3"
        FAILED_CHECKS="$FAILED_CHECKS $1"
    fi
}

# check_order LABEL REORDERED DRY...: frames must arrive in order unless a
# receive ring on their path ran dry (a DRY count, rx_starved, above 0):
# QEMU then queues frames and can deliver a later one first (see
# fwd-chain.sh). A missing DRY count (a safenic without rx_starved) judges
# nothing.
check_order() {
    local label=$1 reordered=$2 dry
    shift 2
    for dry in "$@"; do
        case $dry in
            0) ;;
            missing) return 0 ;;
            *) [ "$reordered" = 0 ] ||
                   echo "NOTE: $label = $reordered after a receive ring ran dry ($dry times)"
               return 0 ;;
        esac
    done
    check "$label" "$reordered" 0
}

verdict() {
    local name=$1
    shift
    if [ -z "$FAILED_CHECKS" ]; then
        echo "VERDICT $name PASS $*"
        return 0
    fi
    echo "VERDICT $name FAIL $* failed=$(echo $FAILED_CHECKS | tr ' ' ',')"
    return 1
}
