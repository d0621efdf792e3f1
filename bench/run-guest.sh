#!/bin/bash
# Boot one bench guest under QEMU (TCG), run one scenario in it, and exit
# with the scenario's status. The only place that starts QEMU.
#
#   bench/run-guest.sh --scenario NAME --initrd FILE [options]
#
# Options:
#   --scenario NAME     guest script /scenarios/NAME.sh (required)
#   --initrd FILE       initramfs from build-initramfs.sh (required)
#   --kernel FILE       bzImage (default: the one in bench/.cache/guest-kernel)
#   --nic MODEL[,MODEL...]
#                       NIC model: virtio (modern 1af4:1041, behind the
#                       IOMMU, packed virtqueues offered: packed=on;
#                       default), virtio-split (the same with packed=off:
#                       split virtqueues only), virtio-mq (virtio with
#                       mq=on, rss=on, hash=on: 4 queue pairs on a tap
#                       topology, see below; packed=on), virtio-legacy
#                       (1af4:1000, split, needs --iommu off), igb
#                       (8086:10c9), e1000e (8086:10d3).
#                       One model applies to every NIC; a list gives NIC1,
#                       NIC2, ... in order and must name every NIC of the
#                       topology (chain4: four), e.g. igb,igb,e1000e,e1000e
#   --topology T        chain4 (default), tap1 or tap2, see below
#   --iommu on|off      emulated Intel IOMMU (default on)
#   --aw-bits N         IOMMU address width (default: QEMU's, 48 in QEMU 10)
#   --param KEY=VALUE   adds safenic.KEY=VALUE to the kernel command line
#                       (repeatable; read by the guest's init and scenarios)
#   --qemu-arg ARG      appends ARG to QEMU's command line (repeatable), for
#                       measurements: e.g. --qemu-arg -trace --qemu-arg EVENT
#   --host-hook CMD     run CMD (via sh -c) on the host while the guest
#                       runs (tap1: inside the test's network namespace);
#                       see below
#   --hotplug-nic N     put NIC n behind its own PCIe root port, so that it
#                       can be hot-unplugged (device_del nicN); see below
#   --timeout SEC       kill QEMU after SEC seconds (default 300)
#   --log FILE          console log (default build/bench-logs/NAME.console.log)
#   --live              also show the console on this terminal as it comes
#   --lock-wait SEC     wait at most SEC seconds for the bench lock (default
#                       3600, or $SAFENIC_GUEST_LOCK_WAIT)
#
# One guest at a time: this machine has two cores and a TCG guest uses
# about one and a half. Every guest the project boots comes through here,
# so here it takes the bench lock, $SAFENIC_GUEST_LOCK (default
# /tmp/safenic-guest.lock, flock), and holds it while QEMU runs. Other
# QEMU processes on the machine (someone else's VMs) are not waited for.
# While waiting it says every minute which of our guests holds the lock;
# past --lock-wait it gives up with exit 2, naming the holder.
#
# Topologies. NIC n sits at PCI slot 3n, so the guest sees it at a FIXED
# address (bench/guest/lib.sh has the same table; scenarios rely on it):
#   NIC1 0000:00:03.0 02:5a:fe:00:00:01    NIC3 0000:00:09.0 02:5a:fe:00:00:03
#   NIC2 0000:00:06.0 02:5a:fe:00:00:02    NIC4 0000:00:0c.0 02:5a:fe:00:00:04
# Slots are three apart because the igb model claims slots +16 and +17 for
# its SR-IOV VFs (two igb at consecutive slots collide). -nodefaults keeps
# QEMU's default NIC (slot 2) and VGA (slot 1) away. check_slots verifies,
# for whatever mix of models is asked for, that no igb VF slot lands on a
# NIC, on another igb's VFs, or on slot 31 (q35's ICH9 functions).
#   chain4: NIC1 <-hub 0-> NIC2, NIC3 <-hub 1-> NIC4. Each hub has exactly
#           two ports, so it behaves as a cable (lossless in our tests).
#   tap1:   NIC1 <-> tap "sfntap0" in a network namespace created for this
#           run (safenic-bench-PID); QEMU runs inside it. The tap is made
#           before QEMU starts, with IPv6 off so the host kernel sends no
#           frames of its own, and is up when the guest boots. The
#           namespace and everything in it are removed on every exit path.
#   tap2:   NIC1 <-> tap sfntap0 <-bridge sfnbr0-> tap sfntap1 <-> NIC2, in
#           a namespace as for tap1 (the host kernel's bridge forwards
#           between the two NICs; SAFENIC_TAP names sfntap0).
#
# Multi-queue virtio (--nic virtio-mq): QEMU gives virtio-net as many
#   queue pairs as its backend has queues, and a hubport has one, so on
#   chain4 a virtio-mq NIC has max_virtqueue_pairs 1. On tap1 and tap2 its
#   tap is a multi-queue tap and the netdev has queues=$MQ_QUEUES (vnet_hdr on:
#   QEMU offers the hash report only with a backend that carries
#   virtio-net headers). Without RSS the tap's own flow steering picks the
#   queue; with RSS (the driver programs it) QEMU's does.
#
# Host hook: CMD starts before QEMU (tap1: inside the namespace), with
#   SAFENIC_CONSOLE (console log path, to watch for guest lines),
#   SAFENIC_HOST_LOG (where its output goes), SAFENIC_MONITOR (a unix
#   socket where QEMU's human monitor listens: set_link, device_del; see
#   host-monitor.py) and, for tap1, SAFENIC_TAP (tap name). It may run at
#   most 60 s past the guest's power-off. A failing hook fails the run.
#   The NICs' QEMU ids are nic1..nic4, their netdevs net1..net4.
#
# Hot-pluggable NIC (--hotplug-nic N): a pcie-root-port takes NIC n's slot
#   (3n) and the NIC sits behind it (n must be the last NIC), so the guest sees it at 0000:01:00.0
#   (the only bridge, so bus 1); the guest's lib.sh reads
#   safenic.hotplug_nic=N, which is passed along, and uses that address.
#
# Exit status: the guest's SCENARIO-EXIT code (0 = pass, 99 = guest setup
# failed); 124 = timeout (QEMU killed); 97 = QEMU ended without reporting;
# 95 = the host hook failed; 2 = bad usage, host setup, or the lock not had.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
TAP=sfntap0
BRIDGE=sfnbr0
MQ_QUEUES=4
HOOK_GRACE=60

SCENARIO="" INITRD="" KERNEL="" NIC=virtio TOPOLOGY=chain4 IOMMU=on
AW_BITS="" HOST_HOOK="" TIMEOUT=300 LOG="" LIVE=0 HOTPLUG_NIC=""
GUEST_LOCK=${SAFENIC_GUEST_LOCK:-/tmp/safenic-guest.lock}
LOCK_WAIT=${SAFENIC_GUEST_LOCK_WAIT:-3600}
PARAMS=()
EXTRA_QEMU_ARGS=()
NIC_MODELS=()   # NIC_MODELS[n-1]: the model of NIC n (from --nic)

NETNS="" QEMU_PID="" HOOK_PID="" TAIL_PID="" PIDFILE="" MONITOR_SOCK=""

die() { echo "run-guest: ERROR: $*" >&2; exit 2; }
say() { echo "run-guest: $*"; }

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --scenario) SCENARIO=$2; shift 2 ;;
            --initrd) INITRD=$2; shift 2 ;;
            --kernel) KERNEL=$2; shift 2 ;;
            --nic) NIC=$2; shift 2 ;;
            --topology) TOPOLOGY=$2; shift 2 ;;
            --iommu) IOMMU=$2; shift 2 ;;
            --aw-bits) AW_BITS=$2; shift 2 ;;
            --param) PARAMS+=("safenic.$2"); shift 2 ;;
            --qemu-arg) EXTRA_QEMU_ARGS+=("$2"); shift 2 ;;
            --host-hook) HOST_HOOK=$2; shift 2 ;;
            --hotplug-nic) HOTPLUG_NIC=$2; shift 2 ;;
            --timeout) TIMEOUT=$2; shift 2 ;;
            --log) LOG=$2; shift 2 ;;
            --live) LIVE=1; shift ;;
            --lock-wait) LOCK_WAIT=$2; shift 2 ;;
            -h|--help) usage ;;
            *) echo "run-guest: unknown argument '$1'" >&2; usage ;;
        esac
    done
    [ -n "$SCENARIO" ] && [ -n "$INITRD" ] || usage
    [ -f "$INITRD" ] || die "initramfs '$INITRD' not found; build it with bench/build-initramfs.sh"
    if [ -z "$KERNEL" ]; then
        KERNEL=$(ls "$BENCH_DIR"/.cache/guest-kernel/boot/vmlinuz-* 2>/dev/null | head -1)
        [ -n "$KERNEL" ] || die "no guest kernel in bench/.cache; run bench/install-deps.sh"
    fi
    case $IOMMU in on|off) ;; *) die "--iommu must be on or off" ;; esac
    case $LOCK_WAIT in ''|*[!0-9]*) die "--lock-wait takes whole seconds, not '$LOCK_WAIT'" ;; esac
    case $TOPOLOGY in chain4|tap1|tap2) ;; *) die "unknown topology '$TOPOLOGY' (chain4, tap1, tap2)" ;; esac
    parse_nic_models
    case $HOTPLUG_NIC in
        '') ;;
        # The last NIC only: bus 1 sorts after bus 0, and the guest finds
        # NIC1..NICn in address order.
        [1-9]) [ "$HOTPLUG_NIC" -eq "$(nic_count)" ] ||
                   die "--hotplug-nic $HOTPLUG_NIC: only the last NIC ($(nic_count) in $TOPOLOGY) can be hot-pluggable" ;;
        *) die "--hotplug-nic takes a NIC number, not '$HOTPLUG_NIC'" ;;
    esac
    # A root port's bus has one slot; igb's SR-IOV VFs need more.
    [ -z "$HOTPLUG_NIC" ] || [ "${NIC_MODELS[HOTPLUG_NIC - 1]}" != igb ] ||
        die "--hotplug-nic $HOTPLUG_NIC: an igb NIC cannot sit behind a root port here (its VFs need slots)"
    [ -z "$AW_BITS" ] || [ "$IOMMU" = on ] || die "--aw-bits needs --iommu on"
    if [[ " ${NIC_MODELS[*]} " == *" virtio-legacy "* ]] && [ "$IOMMU" = on ]; then
        die "legacy virtio does not go through the emulated IOMMU; use --iommu off"
    fi
    check_slots
    [ -n "$LOG" ] || LOG=$REPO_DIR/build/bench-logs/$SCENARIO.console.log
    mkdir -p "$(dirname "$LOG")"
    command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing; run bench/install-deps.sh"
}

# parse_nic_models: --nic into NIC_MODELS, one entry per NIC of the
# topology. A single model stands for all of them.
parse_nic_models() {
    local count model n
    count=$(nic_count)
    IFS=, read -r -a NIC_MODELS <<< "$NIC"
    [ ${#NIC_MODELS[@]} -gt 0 ] || die "--nic needs a model"
    for model in "${NIC_MODELS[@]}"; do
        [ -n "$(model_id "$model")" ] ||
            die "unknown NIC model '$model' in --nic $NIC (virtio, virtio-split, virtio-mq, virtio-legacy, igb, e1000e)"
    done
    if [ ${#NIC_MODELS[@]} -eq 1 ]; then
        for ((n = 1; n < count; n++)); do
            NIC_MODELS+=("${NIC_MODELS[0]}")
        done
    fi
    [ ${#NIC_MODELS[@]} -eq "$count" ] ||
        die "--nic $NIC names ${#NIC_MODELS[@]} models; topology $TOPOLOGY has $count NICs" \
            "(give one model for all, or one per NIC)"
}

# nic_slot N: the PCI slot of NIC n (see the table at the top).
nic_slot() { echo $((3 * $1)); }

# check_slots: the igb model (82576) reserves its 8 SR-IOV VFs at devfn
# PF + 0x80 + 2*i (QEMU hw/net/igb.c: VF offset 0x80, stride 2), i.e.
# functions 0,2,4,6 of slots PF+16 and PF+17; QEMU refuses to start when
# any of them is taken ("slot S function 0 not available for igbvf").
# Check this here, for the models actually asked for, so a new NIC table
# or model mix fails with a clear message instead.
check_slots() {
    local n m slot vf taken=" "
    for ((n = 1; n <= ${#NIC_MODELS[@]}; n++)); do
        taken="$taken$(nic_slot $n) "
    done
    taken="${taken}31 "   # q35: ICH9 LPC, SATA and SMBus sit at slot 0x1f
    for ((n = 1; n <= ${#NIC_MODELS[@]}; n++)); do
        [ "${NIC_MODELS[n - 1]}" = igb ] || continue
        slot=$(nic_slot $n)
        for vf in $((slot + 16)) $((slot + 17)); do
            [ "$vf" -le 31 ] ||
                die "NIC$n (igb, slot $slot) would need slot $vf for its SR-IOV VFs; slots end at 31"
            if [[ "$taken" == *" $vf "* ]]; then
                for ((m = 1; m <= ${#NIC_MODELS[@]}; m++)); do
                    [ "$(nic_slot $m)" != "$vf" ] ||
                        die "NIC$n (igb, slot $slot) reserves slot $vf for its SR-IOV VFs, where NIC$m sits"
                done
                die "NIC$n (igb, slot $slot) reserves slot $vf for its SR-IOV VFs; it is already taken"
            fi
            taken="$taken$vf "
        done
    done
}

# nic_device N NETDEV: the -device argument for NIC n (id nicN). A
# hot-pluggable NIC sits at address 0 behind root port rpN (nic_args).
nic_device() {
    local n=$1 netdev=$2 common model place
    place="addr=0x$(printf %x "$(nic_slot "$n")").0"
    [ "$HOTPLUG_NIC" != "$n" ] || place="bus=rp$n,addr=0x0.0"
    common="id=nic$n,netdev=$netdev,mac=02:5a:fe:00:00:0$n,$place,romfile="
    case ${NIC_MODELS[n - 1]} in
        # VIRTIO_F_ACCESS_PLATFORM: the device's DMA goes through the IOMMU.
        # packed=on offers VIRTIO_F_RING_PACKED (QEMU's default is off),
        # which safenic takes; virtio-split keeps split rings covered.
        virtio) model="virtio-net-pci,disable-legacy=on,iommu_platform=on,packed=on" ;;
        virtio-split) model="virtio-net-pci,disable-legacy=on,iommu_platform=on,packed=off" ;;
        # RSS and the hash report done by QEMU; one MSI-X vector per
        # queue, the control queue and configuration changes.
        virtio-mq) model="virtio-net-pci,disable-legacy=on,iommu_platform=on,packed=on,mq=on,rss=on,hash=on,vectors=$((2 * MQ_QUEUES + 2))" ;;
        virtio-legacy) model="virtio-net-pci,disable-modern=on" ;;
        igb|e1000e) model=${NIC_MODELS[n - 1]} ;;
    esac
    echo "$model,$common"
}

model_id() {
    case $1 in
        virtio|virtio-split|virtio-mq) echo 1af4:1041 ;;
        virtio-legacy) echo 1af4:1000 ;;
        igb) echo 8086:10c9 ;;
        e1000e) echo 8086:10d3 ;;
    esac
}

# nic_ids: the vendor:device of every NIC, comma-separated, NIC1 first.
nic_ids() {
    local model ids=""
    for model in "${NIC_MODELS[@]}"; do
        ids="$ids${ids:+,}$(model_id "$model")"
    done
    echo "$ids"
}

nic_count() {
    case $TOPOLOGY in chain4) echo 4 ;; tap1) echo 1 ;; tap2) echo 2 ;; esac
}

nic_args() {
    local n hub
    NIC_QEMU_ARGS=()
    if [ -n "$HOTPLUG_NIC" ]; then
        NIC_QEMU_ARGS+=(-device "pcie-root-port,id=rp$HOTPLUG_NIC,bus=pcie.0,chassis=$HOTPLUG_NIC,addr=0x$(printf %x "$(nic_slot "$HOTPLUG_NIC")").0")
        PARAMS+=("safenic.hotplug_nic=$HOTPLUG_NIC")
    fi
    case $TOPOLOGY in
        chain4)
            for n in 1 2 3 4; do
                hub=$(((n - 1) / 2))   # NIC1+NIC2 on hub 0, NIC3+NIC4 on hub 1
                NIC_QEMU_ARGS+=(-netdev "hubport,id=net$n,hubid=$hub"
                            -device "$(nic_device $n net$n)")
            done ;;
        tap1|tap2)
            for ((n = 1; n <= $(nic_count); n++)); do
                NIC_QEMU_ARGS+=(-netdev "$(tap_netdev "$n")" -device "$(nic_device "$n" "net$n")")
            done ;;
    esac
}

# nic_tap N: the tap of NIC n on the tap topologies.
nic_tap() { echo "sfntap$(($1 - 1))"; }

# tap_netdev N: NIC n's tap backend. vnet_hdr=off: frames cross the tap
# exactly as the NIC sends them; a multi-queue virtio NIC needs a queue
# per pair, and vnet_hdr for the hash report (its headers carry no
# offloads: safenic negotiates none).
tap_netdev() {
    local n=$1 netdev
    netdev="tap,id=net$n,ifname=$(nic_tap "$n"),script=no,downscript=no"
    if [ "${NIC_MODELS[n - 1]}" = virtio-mq ]; then
        echo "$netdev,queues=$MQ_QUEUES,vnet_hdr=on"
    else
        echo "$netdev,vnet_hdr=off"
    fi
}

build_qemu_args() {
    local append iommu_dev guest_timeout
    # The guest stops its scenario a little before we kill QEMU, so its
    # report (SUMMARY, DMAR lines) still reaches the log.
    # (Guest time runs slower than wall time under TCG, and boot takes
    # about 10 s of it.)
    guest_timeout=$((TIMEOUT >= 120 ? TIMEOUT - 60 : TIMEOUT / 3))
    # no_timer_check: the kernel's boot-time test of the timer interrupt
    # counts ticks against a busy loop; under TCG on a loaded host it
    # failed once ("timer doesn't work through Interrupt-remapped
    # IO-APIC", a panic before init). KVM guests skip it the same way.
    append="console=ttyS0 panic=1 no_timer_check safenic.scenario=$SCENARIO"
    append="$append safenic.nic_count=$(nic_count) safenic.nic_id=$(nic_ids)"
    nic_args   # before the command line: it may add parameters
    append="$append safenic.timeout=$guest_timeout ${PARAMS[*]}"
    # shellcheck disable=SC2054  # commas belong to QEMU option values
    QEMU_ARGS=(-accel tcg -cpu max -m 2048 -smp 2
               -machine q35,kernel-irqchip=split
               -nodefaults -no-user-config -display none
               -chardev "file,id=console,path=$LOG" -serial chardev:console
               -no-reboot -pidfile "$PIDFILE")
    if [ -n "$HOST_HOOK" ]; then
        MONITOR_SOCK=$(mktemp -u /tmp/safenic-monitor.XXXXXX)
        QEMU_ARGS+=(-chardev "socket,id=hmp,path=$MONITOR_SOCK,server=on,wait=off"
                    -mon chardev=hmp,mode=readline)
    else
        QEMU_ARGS+=(-monitor none)
    fi
    if [ "$IOMMU" = on ]; then
        iommu_dev="intel-iommu,intremap=on,caching-mode=on"
        [ -z "$AW_BITS" ] || iommu_dev="$iommu_dev,aw-bits=$AW_BITS"
        QEMU_ARGS+=(-device "$iommu_dev")
        append="$append intel_iommu=on"
    fi
    QEMU_ARGS+=("${NIC_QEMU_ARGS[@]}")
    QEMU_ARGS+=(-kernel "$KERNEL" -initrd "$INITRD" -append "$append")
    QEMU_ARGS+=("${EXTRA_QEMU_ARGS[@]}")
}

setup_netns() {
    local n tap mq
    NETNS=safenic-bench-$$
    ip netns add "$NETNS" || die "ip netns add $NETNS failed"
    in_netns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    if [ "$TOPOLOGY" = tap2 ]; then
        in_netns ip link add "$BRIDGE" type bridge
        in_netns sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1"
    fi
    for ((n = 1; n <= $(nic_count); n++)); do
        tap=$(nic_tap "$n")
        mq=""
        [ "${NIC_MODELS[n - 1]}" != virtio-mq ] || mq=multi_queue
        # shellcheck disable=SC2086  # mq is one word or none
        in_netns ip tuntap add dev "$tap" mode tap $mq
        in_netns sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1"
        [ "$TOPOLOGY" != tap2 ] || in_netns ip link set "$tap" master "$BRIDGE"
        in_netns ip link set "$tap" up
    done
    [ "$TOPOLOGY" != tap2 ] || in_netns ip link set "$BRIDGE" up
    say "network namespace $NETNS with $(nic_count) tap(s) (IPv6 off, up)" \
        "$([ "$TOPOLOGY" != tap2 ] || echo "bridged by $BRIDGE")"
}

in_netns() { ip netns exec "$NETNS" "$@"; }

start_host_hook() {
    local hook_log=${LOG%.console.log}.host.log
    [ "$hook_log" != "$LOG" ] || hook_log=$LOG.host.log
    local in_ns=()
    [ -z "$NETNS" ] || in_ns=(ip netns exec "$NETNS")
    say "host hook: $HOST_HOOK (output in $hook_log)"
    SAFENIC_TAP=$TAP SAFENIC_CONSOLE=$LOG SAFENIC_HOST_LOG=$hook_log \
        SAFENIC_MONITOR=$MONITOR_SOCK \
        "${in_ns[@]}" sh -c "$HOST_HOOK" > "$hook_log" 2>&1 &
    HOOK_PID=$!
}

# cleanup: runs on every exit; QEMU, the hook and the namespace must not
# outlive this script.
# Best effort throughout (set +e): one failed step must not skip the rest.
cleanup() {
    local pid="" waited=0
    set +e
    [ -z "$TAIL_PID" ] || kill "$TAIL_PID" 2>/dev/null
    [ -z "$HOOK_PID" ] || kill_tree "$HOOK_PID"
    # QEMU_PID is timeout(1), which passes SIGTERM on to QEMU.
    [ -z "$QEMU_PID" ] || kill -TERM "$QEMU_PID" 2>/dev/null
    # QEMU removes its pidfile when it exits.
    [ -z "$PIDFILE" ] || pid=$(cat "$PIDFILE" 2>/dev/null)
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $waited -lt 10 ]; do
        sleep 0.5
        waited=$((waited + 1))
    done
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
    [ -z "$PIDFILE" ] || rm -f "$PIDFILE"
    [ -z "$NETNS" ] || ip netns del "$NETNS"
    [ -z "$MONITOR_SOCK" ] || rm -f "$MONITOR_SOCK"
}

# kill_tree PID: PID and its descendants (the hook runs python children).
kill_tree() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do
        kill_tree "$child"
    done
    kill -TERM "$1" 2>/dev/null || true
}

# wait_hook: give the hook HOOK_GRACE seconds to finish after the guest.
wait_hook() {
    local waited=0
    while kill -0 "$HOOK_PID" 2>/dev/null && [ $waited -lt $HOOK_GRACE ]; do
        sleep 1
        waited=$((waited + 1))
    done
    if kill -0 "$HOOK_PID" 2>/dev/null; then
        say "host hook still running ${HOOK_GRACE}s after the guest ended; killing it"
        kill_tree "$HOOK_PID"
    fi
    local rc=0
    wait "$HOOK_PID" || rc=$?
    HOOK_PID=""
    return $rc
}

# lock_holder: what the guest holding the bench lock said about itself.
lock_holder() {
    cat "$GUEST_LOCK.holder" 2>/dev/null || echo "unknown (no $GUEST_LOCK.holder)"
}

# take_guest_lock: the bench lock on fd 9, held until this script exits;
# QEMU inherits the fd, so a QEMU that outlives us still holds it. Waits
# in one-minute steps so that the wait can name the holder.
take_guest_lock() {
    local waited=0 step
    exec 9>> "$GUEST_LOCK" || die "cannot open the bench lock $GUEST_LOCK"
    while ! flock -n 9; do
        [ "$waited" -lt "$LOCK_WAIT" ] ||
            die "waited ${LOCK_WAIT}s for the bench lock $GUEST_LOCK; it is held by: $(lock_holder)"
        say "waiting for the bench lock ($waited s so far); held by: $(lock_holder)"
        step=$((LOCK_WAIT - waited < 60 ? LOCK_WAIT - waited : 60))
        if flock -w "$step" 9; then
            break
        fi
        waited=$((waited + step))
    done
    echo "pid $$, scenario $SCENARIO, nic $NIC, since $(date -u +%H:%M:%SZ), log $LOG" \
        > "$GUEST_LOCK.holder"
}

guest_exit_code() {
    tr -d '\r' < "$LOG" | sed -n 's/^SCENARIO-EXIT: \([0-9]*\)$/\1/p' | tail -1
}

# A guest whose console stays silent for SILENCE_LIMIT s is noted, once,
# in LOG.silence, with what QEMU's threads were doing: a guest frozen by
# a QEMU that waits on itself shows threads asleep and no CPU used; one
# spinning inside the guest shows its vCPU threads running. (The
# timeout still decides; this only says why, for the next look.)
SILENCE_LIMIT=90
watch_silence() { # QEMU's pid (timeout's child is QEMU itself)
    local pid=$1 size last_size=-1 quiet=0 qemu
    while sleep 5; do
        size=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
        if [ "$size" != "$last_size" ]; then
            last_size=$size quiet=0
            continue
        fi
        quiet=$((quiet + 5))
        [ "$quiet" -ge "$SILENCE_LIMIT" ] || continue
        qemu=$(pgrep -P "$pid" -x qemu-system-x86 2>/dev/null | head -1)
        [ -n "$qemu" ] || qemu=$(pgrep -P "$pid" 2>/dev/null | head -1)
        [ -n "$qemu" ] || qemu=$pid
        {
            echo "console silent for ${quiet} s at $(date -u +%H:%M:%S); QEMU pid $qemu"
            echo "threads (name, state, utime+stime ticks), 5 s apart:"
            for round in 1 2; do
                for t in /proc/"$qemu"/task/*; do
                    awk -v n="$(cat "$t/comm" 2>/dev/null)" \
                        '{ sub(/^.*\) /, ""); print "  " n, $1, $12 + $13 }' "$t/stat" 2>/dev/null
                done
                [ "$round" = 2 ] || { echo "  --"; sleep 5; }
            done
            echo "load: $(cat /proc/loadavg)"
        } > "$LOG.silence" 2>&1
        return 0
    done
}

run_qemu() {
    local rc=0 start end
    : > "$LOG"
    rm -f "$LOG.silence"
    if [ "$LIVE" -eq 1 ]; then
        tail -n +1 -f "$LOG" &
        TAIL_PID=$!
    fi
    start=$(date +%s)
    # timeout sends SIGTERM at the limit and SIGKILL 5 s later.
    if [ -n "$NETNS" ]; then
        ip netns exec "$NETNS" timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" \
            2> "$LOG.qemu-stderr" &
    else
        timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" 2> "$LOG.qemu-stderr" &
    fi
    QEMU_PID=$!
    watch_silence "$QEMU_PID" &
    local watcher=$!
    wait "$QEMU_PID" || rc=$?
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
    QEMU_PID=""
    end=$(date +%s)
    sleep 0.3   # let tail print the last lines
    [ -z "$TAIL_PID" ] || { kill "$TAIL_PID" 2>/dev/null || true; TAIL_PID=""; }
    GUEST_SECONDS=$((end - start))
    QEMU_RC=$rc
}

main() {
    local guest_rc hook_rc=0
    parse_args "$@"
    PIDFILE=$(mktemp)
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    build_qemu_args
    take_guest_lock
    [ "$TOPOLOGY" = chain4 ] || setup_netns
    [ -z "$HOST_HOOK" ] || start_host_hook
    say "booting: scenario=$SCENARIO nic=$NIC topology=$TOPOLOGY iommu=$IOMMU" \
        "${AW_BITS:+aw-bits=$AW_BITS }timeout=${TIMEOUT}s log=$LOG"
    echo "qemu-system-x86_64 ${QEMU_ARGS[*]}" > "$LOG.cmdline"
    run_qemu
    [ -z "$HOOK_PID" ] || wait_hook || hook_rc=$?

    if [ "$QEMU_RC" -eq 124 ] || [ "$QEMU_RC" -eq 137 ]; then
        say "TIMEOUT: the guest did not power off within ${TIMEOUT}s; QEMU was killed." \
            "Console: $LOG"
        [ ! -s "$LOG.silence" ] || sed 's/^/run-guest: /' "$LOG.silence"
        exit 124
    fi
    guest_rc=$(guest_exit_code)
    if [ -z "$guest_rc" ]; then
        say "FAILED: QEMU exited (status $QEMU_RC) after ${GUEST_SECONDS}s without a" \
            "SCENARIO-EXIT line. Console: $LOG; QEMU errors: $LOG.qemu-stderr"
        sed 's/^/run-guest: qemu: /' "$LOG.qemu-stderr" | tail -5 >&2
        exit 97
    fi
    say "guest finished in ${GUEST_SECONDS}s: SCENARIO-EXIT $guest_rc," \
        "$(tr -d '\r' < "$LOG" | grep '^DMAR-FAULTS:' | tail -1 || echo 'no DMAR-FAULTS line')"
    if [ "$guest_rc" -eq 0 ] && [ "$hook_rc" -ne 0 ]; then
        say "FAILED: the guest passed but the host hook exited $hook_rc"
        exit 95
    fi
    exit "$guest_rc"
}

main "$@"
