#!/bin/bash
# Build the guest's initramfs (cpio newc, gzip).
#
#   bench/build-initramfs.sh SAFENIC_BINARY OUT.cpio.gz [EXTRA_DIR]
#
# SAFENIC_BINARY must be a static x86-64 executable (it lands at
# /usr/bin/safenic). Pass "none" to build an image without it; the bench's
# selftest-* scenarios need no safenic.
#
# Contents:
#   /init                          bench/guest/init
#   /bin/busybox + applet links    from bench/.cache/busybox (busybox-static)
#   /usr/bin/safenic               the given binary
#   /usr/bin/safenic-*             the guest test programs built with it:
#                                  BUILD/guest-programs/*, BUILD being the
#                                  build directory of BUILD/src/cli/safenic
#                                  (bench/guest/programs/)
#   /scenarios/*.sh                bench/guest/scenarios/
#   /lib/safenic-bench/lib.sh      bench/guest/lib.sh (helpers for init and scenarios)
#   /lib/safenic-bench/modules/    guest kernel modules, flat, plus one
#                                  <set>.list per module set naming the files
#                                  in load order (dependencies first)
#   /lib/safenic-bench/build-info  kernel version, safenic checksum
#   EXTRA_DIR's tree, if given      copied over the root last (the guest
#                                  benchmarks add DPDK's testpmd this way)
#
# Prerequisite: bench/install-deps.sh (fills bench/.cache/).
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=$BENCH_DIR/.cache
KERNEL_ROOT=$CACHE_DIR/guest-kernel
BUSYBOX=$CACHE_DIR/busybox/bin/busybox

# Module sets, in the load order testbench.md gives. A trailing '?' marks a
# module that newer kernels merged into another one (vfio_virqfd went into
# vfio in 6.2): it is taken when the kernel has it and skipped otherwise.
MODSET_IOMMU="irqbypass vfio vfio_iommu_type1 vfio_virqfd? vfio-pci-core vfio-pci"
# Without an IOMMU this kernel has no VFIO no-IOMMU mode; unsafe mode uses
# PCI sysfs resource files or uio_pci_generic.
MODSET_NOIOMMU="uio uio_pci_generic"
# The guest kernel's own virtio-net driver, used only by the selftest-tap
# scenario to prove the tap wiring without safenic.
MODSET_KERNELNET="virtio_pci virtio_net"

die() { echo "build-initramfs: ERROR: $*" >&2; exit 1; }

usage() {
    echo "usage: $0 SAFENIC_BINARY|none OUT.cpio.gz [EXTRA_DIR]" >&2
    exit 2
}

check_inputs() {
    [ -x "$BUSYBOX" ] && [ -d "$KERNEL_ROOT/lib/modules" ] ||
        die "bench/.cache is not populated; run bench/install-deps.sh first"
    [ -f "$MODDIR/modules.dep" ] ||
        die "$MODDIR/modules.dep missing; rerun bench/install-deps.sh (it runs depmod)"
    [ "$SAFENIC" = none ] || check_static_binary "$SAFENIC"
}

# The initramfs carries no C library, so only a static binary runs there.
check_static_binary() {
    local bin=$1
    [ -f "$bin" ] || die "safenic binary '$bin' not found"
    readelf -h "$bin" 2>/dev/null | grep -q 'Machine:.*X86-64' ||
        die "'$bin' is not an x86-64 ELF executable"
    if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
        die "'$bin' is dynamically linked; the guest has no C library." \
            "Build safenic statically (link with -static)."
    fi
}

# module_path NAME: path of NAME.ko relative to MODDIR, or nothing.
# Module names treat '-' and '_' as the same character.
module_path() {
    local want
    want=$(echo "$1" | tr - _)
    awk -F: -v want="$want" '{
        n = $1; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n)
        if (n == want) { print $1; exit }
    }' "$MODDIR/modules.dep"
}

# module_deps PATH: the direct dependencies of PATH from modules.dep.
module_deps() {
    awk -F': *' -v p="$1" '$1 == p { print $2; exit }' "$MODDIR/modules.dep"
}

# add_module_closure PATH: appends PATH's dependencies, then PATH, to the
# global ORDERED list (depth first, each module once).
add_module_closure() {
    local path=$1 dep
    case " $ORDERED " in *" $path "*) return ;; esac
    for dep in $(module_deps "$path"); do
        add_module_closure "$dep"
    done
    ORDERED="$ORDERED $path"
}

# install_module_set SETNAME MODULES...: copy the modules and their
# dependencies into the image and write SETNAME.list in load order.
install_module_set() {
    local set=$1 name path optional
    shift
    ORDERED=""
    for name in "$@"; do
        optional=0
        case $name in *\?) optional=1; name=${name%\?} ;; esac
        path=$(module_path "$name")
        if [ -z "$path" ]; then
            [ "$optional" -eq 1 ] && { echo "  ($name not in this kernel; skipped)"; continue; }
            die "module $name not found in $MODDIR"
        fi
        add_module_closure "$path"
    done
    mkdir -p "$ROOT/lib/safenic-bench/modules"
    : > "$ROOT/lib/safenic-bench/modules/$set.list"
    for path in $ORDERED; do
        case $path in *.ko) ;; *) die "$path is compressed; only plain .ko is handled" ;; esac
        cp "$MODDIR/$path" "$ROOT/lib/safenic-bench/modules/"
        basename "$path" >> "$ROOT/lib/safenic-bench/modules/$set.list"
    done
    echo "  modules $set:$(tr '\n' ' ' < "$ROOT/lib/safenic-bench/modules/$set.list" |
        sed 's/^/ /; s/ *$//')"
}

install_busybox() {
    local applet
    mkdir -p "$ROOT/bin"
    cp "$BUSYBOX" "$ROOT/bin/busybox"
    # --list-full prints each applet's install path (bin/sh, sbin/insmod, ...).
    for applet in $("$BUSYBOX" --list-full); do
        [ "$applet" = bin/busybox ] && continue
        mkdir -p "$ROOT/$(dirname "$applet")"
        ln -sf /bin/busybox "$ROOT/$applet"
    done
}

install_bench_files() {
    mkdir -p "$ROOT/scenarios" "$ROOT/lib/safenic-bench" "$ROOT/usr/bin" \
             "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/tmp" "$ROOT/run"
    install -m 755 "$BENCH_DIR/guest/init" "$ROOT/init"
    install -m 644 "$BENCH_DIR/guest/lib.sh" "$ROOT/lib/safenic-bench/lib.sh"
    install -m 755 "$BENCH_DIR"/guest/scenarios/*.sh "$ROOT/scenarios/"
    if [ "$SAFENIC" != none ]; then
        install -m 755 "$SAFENIC" "$ROOT/usr/bin/safenic"
        local progs prog
        progs=$(dirname "$SAFENIC")/../../guest-programs
        for prog in "$progs"/safenic-*; do
            [ -f "$prog" ] || continue
            check_static_binary "$prog"
            install -m 755 "$prog" "$ROOT/usr/bin/"
        done
    fi
    # The kernel opens /dev/console before /init runs; init also reopens it
    # after mounting devtmpfs, so a missing node (non-root build) only costs
    # the early messages of init.
    mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true
    {
        echo "kernel=$KVER"
        if [ "$SAFENIC" = none ]; then echo "safenic=none"
        else echo "safenic_sha256=$(sha256sum "$SAFENIC" | cut -d' ' -f1)"; fi
        echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } > "$ROOT/lib/safenic-bench/build-info"
}

pack() {
    local out=$1
    mkdir -p "$(dirname "$out")"
    # Sorted names give a reproducible archive; owner root for every file.
    (cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet) | gzip -6 > "$out.tmp"
    mv "$out.tmp" "$out"
}

main() {
    [ $# -eq 2 ] || [ $# -eq 3 ] || usage
    SAFENIC=$1
    OUT=$2
    EXTRA=${3:-}
    [ -z "$EXTRA" ] || [ -d "$EXTRA" ] || die "extra directory '$EXTRA' not found"
    MODDIR=$(echo "$KERNEL_ROOT"/lib/modules/*)
    KVER=$(basename "$MODDIR")
    check_inputs
    ROOT=$(mktemp -d)
    trap 'rm -rf "$ROOT"' EXIT
    echo "build-initramfs: guest kernel $KVER, safenic: $SAFENIC"
    install_busybox
    install_bench_files
    install_module_set iommu $MODSET_IOMMU
    install_module_set noiommu $MODSET_NOIOMMU
    install_module_set kernelnet $MODSET_KERNELNET
    if [ -n "$EXTRA" ]; then
        cp -a "$EXTRA/." "$ROOT/"
        echo "  extra files: $EXTRA ($(du -sm "$EXTRA" | cut -f1) MiB)"
    fi
    pack "$OUT"
    echo "build-initramfs: wrote $OUT ($(du -k "$OUT" | cut -f1) KiB)"
}

main "$@"
