#!/bin/sh
# tools-errors: the bad-input cases that need a device (the others run on
# the host: src/cli/errors_test.sh). chain4 topology, virtio behind the
# IOMMU, NICs bound to vfio-pci by /init. Each case prints an ERRCASE row:
# exit status, and one line on stderr naming the problem and the fix.
#   in use        a recv holds NIC4: gen, dump, respond and fwd on it, and
#                 unbind, are refused naming the process
#   no device     an address with nothing there
#   output file   dump to a read-only file system, to /dev/full, into a
#                 missing folder: refused before the device is opened
#   huge pages    --reserve more than memory allows; with no huge pages
#                 reserved and THP on madvise a command takes transparent
#                 huge pages without a warning; with THP off as well it
#                 falls back to 4 KiB pages with a warning naming the fix
#                 (status 0: the documented fallbacks, scenarios
#                 fwd-chain-thp and fwd-chain-4k)
#   not root      bind, unbind and hugepages --reserve as a plain user
. /lib/safenic-bench/lib.sh
. /scenarios/tools-lib.sh

NAME=tools-errors
NODEV=0000:00:1e.0

# --- a device in use by another process ------------------------------------
start_bg holder safenic recv "$NIC4" --idle-timeout 0
HOLDER=$BG_PID
if wait_running holder "$HOLDER" 30; then
    errcase in-use-gen 1 "in use by another process: pid $HOLDER (safenic)" \
        "stop that process first" -- safenic gen "$NIC4" --count 1
    errcase in-use-dump 1 "in use by another process" "stop that process" -- \
        safenic dump "$NIC4" -w /tmp/in-use.pcap
    errcase in-use-respond 1 "in use by another process" "stop that process" -- \
        safenic respond "$NIC4" --ip 10.0.0.1
    errcase in-use-fwd 1 "in use by another process" "stop that process" -- \
        safenic fwd "$NIC3" "$NIC4"
    errcase in-use-unbind 1 "in use by another process: pid $HOLDER" \
        "stop that process first" -- safenic unbind "$NIC4"
    check in_use_still_bound "$(basename "$(readlink /sys/bus/pci/devices/$NIC4/driver)")" vfio-pci
    check in_use_dump_no_file "$([ -e /tmp/in-use.pcap ] && echo left || echo none)" none
else
    check holder_started no yes
fi
stop_pid "$HOLDER" holder 5 > /dev/null

# --- no such device ---------------------------------------------------------
errcase no-device-gen 1 "there is no PCI device at that address" \
    "'safenic devices' lists" -- safenic gen "$NODEV"
errcase no-device-bind 1 "there is no PCI device $NODEV" "'safenic devices'" -- \
    safenic bind "$NODEV"

# --- unwritable capture files -----------------------------------------------
mkdir -p /mnt/ro
mount -t tmpfs -o ro,size=64k tmpfs /mnt/ro
errcase dump-read-only 1 "Read-only file system" "choose a writable path" -- \
    safenic dump "$NIC2" -w /mnt/ro/x.pcap
umount /mnt/ro
errcase dump-dev-full 1 "No space left on device" "free some space" -- \
    safenic dump "$NIC2" -w /dev/full
errcase dump-no-dir 1 "No such file or directory" "create it" -- \
    safenic dump "$NIC2" -w /no/such/dir/x.pcap

# --- huge pages ------------------------------------------------------------
errcase hugepages-too-many 1 "the kernel reserved only" "hugepages=" -- \
    safenic hugepages --reserve 100000
safenic hugepages --reserve 256 > /tmp/hp.log 2>&1
check hugepages_restored "$(cat /proc/sys/vm/nr_hugepages)" 256
sed 's/^/[hugepages] /' /tmp/hp.log
echo 0 > /proc/sys/vm/nr_hugepages
# No hugetlb page, THP on for ranges that ask: transparent huge pages, no
# warning, and the start-up line says so (every unit huge).
THP_FILE=/sys/kernel/mm/transparent_hugepage/enabled
THP_WAS=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP_FILE")
echo madvise > "$THP_FILE"
mkdir -p "$LOG_DIR"
safenic gen "$NIC1" --count 10 > "$LOG_DIR/thp-gen.log" 2>&1
RC=$?
KIND=$(memory_kind thp-gen)
ERRCASES=$((ERRCASES + 1))
echo "ERRCASE no-hugepages-thp $([ "$RC" = 0 ] && [ "$KIND" = thp ] && echo PASS || echo FAIL)" \
     "exit=$RC: $(grep -m1 '^DMA memory' "$LOG_DIR/thp-gen.log")"
check no_hugepages_thp "$KIND" thp
check no_hugepages_thp_exit "$RC" 0
sed 's/^/[thp-gen] /' "$LOG_DIR/thp-gen.log"
check no_hugepages_thp_quiet "$(grep 'warning' "$LOG_DIR/thp-gen.log" | grep -c 'pages\|IOTLB')" 0
# THP off as well: 4 KiB pages, with the warning.
echo never > "$THP_FILE"
safenic gen "$NIC1" --count 10 > /tmp/nohuge.out 2> /tmp/nohuge.err
RC=$?
echo "$THP_WAS" > "$THP_FILE"
WARN=$(grep -c 'nr_hugepages' /tmp/nohuge.err)
ERRCASES=$((ERRCASES + 1))
echo "ERRCASE no-hugepages-fallback $([ "$RC" = 0 ] && [ "$WARN" -ge 1 ] && echo PASS || echo FAIL)" \
     "exit=$RC: $(grep -m1 'warning' /tmp/nohuge.err)"
check no_hugepages_warns "$([ "$WARN" -ge 1 ] && echo yes)" yes
check no_hugepages_exit "$RC" 0
safenic hugepages > /tmp/hp0.log 2>&1
sed 's/^/[hugepages] /' /tmp/hp0.log
check hugepages_advice "$(grep -c 'safenic hugepages --reserve' /tmp/hp0.log)" 1
echo 256 > /proc/sys/vm/nr_hugepages

# --- not root ---------------------------------------------------------------
mkdir -p /etc
echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
echo "sn:x:1000:1000:safenic:/tmp:/bin/sh" >> /etc/passwd
echo "root:x:0:" > /etc/group
echo "sn:x:1000:" >> /etc/group
errcase not-root-bind 1 "needs root" "sudo" -- su -s /bin/sh sn -c "safenic bind $NIC1"
errcase not-root-unbind 1 "needs root" "sudo" -- su -s /bin/sh sn -c "safenic unbind $NIC1"
errcase not-root-reserve 1 "needs root" "sudo" -- \
    su -s /bin/sh sn -c "safenic hugepages --reserve 8"
errcase not-root-no-permission 1 "no permission to open /dev/vfio/" \
    "safenic bind $NIC1 --user" -- su -s /bin/sh sn -c "safenic gen $NIC1 --count 1"

verdict "$NAME" "cases=$ERRCASES"
