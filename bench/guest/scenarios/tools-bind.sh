#!/bin/sh
# tools-bind: `safenic bind` and `safenic unbind` on NICs the guest
# kernel's own virtio-net driver holds, and a plain user running the
# datapath after `bind --user`. chain4 topology, virtio behind the IOMMU,
# booted with safenic.bind=none (run-tools.sh does) so /init leaves the
# NICs alone; this script loads virtio_pci/virtio_net, which claims them.
#   1. refusals: gen on a NIC the kernel holds; bind while its interface
#      is up with an address and a route; while down but addressed; as a
#      user without the device
#   2. bind NIC1..NIC4 --user sn (NIC2 with --force while up), owner check
#   3. as user sn, with the memlock limit bind names: recv NIC4, fwd NIC2
#      NIC3 (--json), gen NIC1: every frame arrives
#   4. unbind while fwd still runs is refused; then unbind all four: each
#      is back with virtio-pci and has an interface again
. /lib/safenic-bench/lib.sh
. /scenarios/tools-lib.sh

NAME=tools-bind
COUNT=$(param count 2000)
RATE=$(param rate 1000)
MODDIR=/lib/safenic-bench/modules

iface_of() {
    ls "/sys/bus/pci/devices/$1"/virtio*/net 2>/dev/null | head -1
}

driver_of() {
    if [ -e "/sys/bus/pci/devices/$1/driver" ]; then
        basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
    else
        echo none
    fi
}

group_of() {
    basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"
}

# as_user CMD: runs CMD (a shell command line) as user sn.
as_user() {
    su -s /bin/sh sn -c "$1"
}

for ko in $(cat "$MODDIR/kernelnet.list"); do
    insmod "$MODDIR/$ko" || { echo "insmod $ko failed"; verdict "$NAME" modules=failed; exit 1; }
done
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -n "$(iface_of "$NIC4")" ] && break
    sleep 0.5
done
IF1=$(iface_of "$NIC1")
IF2=$(iface_of "$NIC2")
echo "$NAME: $NIC1 is $IF1 ($(driver_of "$NIC1")), $NIC2 is $IF2"
check kernel_has_nic1 "$(driver_of "$NIC1")" virtio-pci

mkdir -p /etc
echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
echo "sn:x:1000:1000:safenic:/tmp:/bin/sh" >> /etc/passwd
echo "root:x:0:" > /etc/group
echo "sn:x:1000:" >> /etc/group

# --- 1. refusals -------------------------------------------------------------
errcase kernel-holds-device 1 "bound to the kernel driver virtio-pci (interface $IF1)" \
    "safenic bind $NIC1" -- safenic gen "$NIC1" --count 1
ip link set "$IF1" up
ip addr add 10.9.0.1/24 dev "$IF1"
errcase bind-interface-up 1 "interface $IF1 is up, has addresses 10.9.0.1" \
    "ip link set $IF1 down; ip addr flush dev $IF1" -- safenic bind "$NIC1"
grep -q 'carries routes 10.9.0.0/24' /tmp/errcase.err
check bind_names_route "$?" 0
ip link set "$IF1" down
errcase bind-interface-addressed 1 "interface $IF1 has addresses 10.9.0.1" "--force" -- \
    safenic bind "$NIC1"
check refused_left_alone "$(driver_of "$NIC1")" virtio-pci
ip addr flush dev "$IF1"

# --- 2. bind, with and without --force ------------------------------------
safenic bind "$NIC1" --user sn > /tmp/bind1.log 2>&1
check bind_nic1 "$?" 0
sed 's/^/[bind] /' /tmp/bind1.log
check nic1_vfio "$(driver_of "$NIC1")" vfio-pci
check nic1_owner "$(stat -c %U "/dev/vfio/$(group_of "$NIC1")")" sn
# The limit bind asks for, in KiB ("ulimit -l N").
MEMLOCK=$(sed -n "s/.*'ulimit -l \([0-9]*\)'.*/\1/p" /tmp/bind1.log | head -1)
check memlock_named "$([ -n "$MEMLOCK" ] && echo yes)" yes

ip link set "$IF2" up
errcase bind-without-force 1 "interface $IF2 is up" "or use --force" -- safenic bind "$NIC2"
safenic bind "$NIC2" --force --user sn > /tmp/bind2.log 2>&1
check bind_nic2_force "$?" 0
sed 's/^/[bind] /' /tmp/bind2.log
check bind_force_warns "$(grep -c 'warning: --force' /tmp/bind2.log)" 1
# NIC3 first without --user: the user may not open it yet.
safenic bind "$NIC3" > /tmp/bind3.log 2>&1
check bind_nic3 "$?" 0
errcase user-without-device 1 "no permission to open /dev/vfio/$(group_of "$NIC3")" \
    "--user" -- su -s /bin/sh sn -c "safenic recv $NIC3 --count 1"
safenic bind "$NIC3" --user sn > /tmp/bind3.log 2>&1
check bind_nic3_user "$?" 0
check bind_nic3_already "$(grep -c 'already bound to vfio-pci' /tmp/bind3.log)" 1
safenic bind "$NIC4" --user sn > /tmp/bind4.log 2>&1
check bind_nic4 "$?" 0
for n in "$NIC2" "$NIC3" "$NIC4"; do
    check "owner_$n" "$(stat -c %U "/dev/vfio/$(group_of "$n")")" sn
done

# --- 3. the datapath as a plain user ----------------------------------------
# A limit below what a run needs is named as such.
errcase user-memlock-too-low 1 "memlock" "ulimit -l" -- \
    su -s /bin/sh sn -c "ulimit -l 1024; safenic recv $NIC4 --count 1"
ulimit -l "${MEMLOCK:-65536}"
echo "$NAME: user sn runs with ulimit -l $(ulimit -l) KiB"
mkdir -p "$LOG_DIR"
chmod 777 "$LOG_DIR"
su -s /bin/sh sn -c "exec safenic recv $NIC4 --expect $COUNT --idle-timeout 10" \
    > "$LOG_DIR/recv.log" 2>&1 &
RECV_PID=$!
su -s /bin/sh sn -c "exec safenic fwd $NIC2 $NIC3 --json" \
    > "$LOG_DIR/fwd-json.out" 2> "$LOG_DIR/fwd-json.err" &
FWD_PID=$!
STARTED=no
if wait_running recv "$RECV_PID" 30 && wait_started fwd-json "$FWD_PID" 30; then
    STARTED=yes
fi
check user_recv_fwd_started "$STARTED" yes
if [ "$STARTED" = yes ]; then
    as_user "safenic gen $NIC1 --count $COUNT --rate $RATE --dst-mac $MAC4" \
        > "$LOG_DIR/gen.log" 2>&1
    check user_gen_exit "$?" 0
    wait_exit "$RECV_PID" 40 recv
    check user_recv_exit "$?" 0
    # --- 4. unbind refused while in use ----------------------------------
    errcase unbind-in-use 1 "in use by another process" "stop that process first" -- \
        safenic unbind "$NIC2"
    check unbind_refused_left_bound "$(driver_of "$NIC2")" vfio-pci
fi
alive "$RECV_PID" && stop_pid "$RECV_PID" recv 5 > /dev/null
# The su shell exec'd safenic, so FWD_PID is safenic itself.
stop_pid "$FWD_PID" fwd 10
check user_fwd_exit "$?" 0
show_log gen
show_log recv
show_split fwd-json
emit_json fwd-json
check user_sent "$(summary_value gen gen tx_packets)" "$COUNT"
check user_received "$(summary_value recv recv valid)" "$COUNT"
check user_forwarded "$(json_value fwd-json a_to_b)" "$COUNT"

# --- 4. unbind -----------------------------------------------------------
for n in "$NIC1" "$NIC2" "$NIC3" "$NIC4"; do
    safenic unbind "$n" > /tmp/unbind.log 2>&1
    check "unbind_$n" "$?" 0
    sed 's/^/[unbind] /' /tmp/unbind.log
    check "back_to_kernel_$n" "$(driver_of "$n")" virtio-pci
done
sleep 1
check nic1_interface_back "$([ -n "$(iface_of "$NIC1")" ] && echo yes)" yes
safenic unbind "$NIC1" > /tmp/unbind.log 2>&1
check unbind_again_ok "$?" 0
check unbind_again_says "$(grep -c 'nothing to do' /tmp/unbind.log)" 1

verdict "$NAME" "user_sent=$(summary_value gen gen tx_packets)" \
    "user_forwarded=$(json_value fwd-json a_to_b)" \
    "user_received=$(summary_value recv recv valid) memlock_kib=$MEMLOCK cases=$ERRCASES"
