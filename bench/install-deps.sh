#!/bin/bash
# Install everything the guest test bench needs on a fresh Debian 12 machine.
#
#   sudo bench/install-deps.sh
#
# Safe to rerun: every step first checks whether its work is already done, so
# a second run does no network access at all and takes about a second.
#
# What it does:
#   1. enables bookworm-backports (QEMU 10 lives there; bookworm's 7.2 has no
#      igb model) by copying the first stanza of the machine's own
#      debian.sources, so no mirror host is ever named in this repository;
#   2. installs QEMU from backports and the build/test tools from bookworm;
#   3. downloads (never installs) the guest kernel package and busybox-static
#      and unpacks them with dpkg-deb -x into bench/.cache/.
#
# Layout produced under bench/.cache/:
#   kernel/<package>/       unpacked guest kernel (boot/vmlinuz-*, lib/modules/*)
#   guest-kernel            symlink to the kernel/<package>/ in use
#   busybox/                unpacked busybox-static (bin/busybox)
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=$BENCH_DIR/.cache
BACKPORTS_FILE=/etc/apt/sources.list.d/safenic-bookworm-backports.sources
DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources
MIN_QEMU_MAJOR=8   # igb (82576) model appeared in QEMU 8.0

# Packages from bookworm. qemu-system-x86 comes from backports (see below).
# No option ROM package is needed (ipxe-qemu comes anyway, as a dependency
# of qemu-system-x86): run-guest.sh gives every NIC an empty
# romfile=, which disables option ROMs (we boot with -kernel, not PXE).
# busybox-static is only downloaded and unpacked (below), not installed:
# the guest needs it, the host does not, and installing it would replace a
# host's busybox package. clang-tools is scan-build, for
# tools/static-analysis.sh. The fuzz harnesses (fuzz/) link clang 14's
# libFuzzer: -fsanitize=fuzzer takes libclang_rt.fuzzer from
# libclang-rt-14-dev (only a Recommends of clang-14, so named here), and
# libfuzzer-14-dev is Debian's libFuzzer package for the same clang
# (libFuzzer.a, for -lFuzzer).
# AF_XDP devices (src/lib/afxdp.c) open their sockets through libxdp and
# libbpf; the static tool for the guest links their archives and those of
# libelf and zlib, which libbpf needs.
HOST_PACKAGES="cpio cmake gcc clang clang-tools make pkg-config libcmocka-dev iproute2
  tcpdump python3 kmod procps coreutils binutils xz-utils valgrind
  libfuzzer-14-dev libclang-rt-14-dev
  libxdp-dev libbpf-dev libelf-dev zlib1g-dev"

export DEBIAN_FRONTEND=noninteractive

say() { echo "install-deps: $*"; }
die() { echo "install-deps: ERROR: $*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install, dpkg-deb)."
}

# apt-get update is slow; do it at most once per run, and only when some
# step really needs the package lists.
APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
}

enable_backports() {
    if [ -f "$BACKPORTS_FILE" ]; then
        say "bookworm-backports already enabled ($BACKPORTS_FILE)"
        return
    fi
    [ -f "$DEBIAN_SOURCES" ] || die "$DEBIAN_SOURCES not found; this script \
expects a Debian 12 machine with deb822 sources. Add a bookworm-backports \
source by hand, then rerun."
    say "enabling bookworm-backports in $BACKPORTS_FILE"
    # First stanza = lines up to the first blank line; keep its URIs,
    # Components and Signed-By, replace only the Suites line.
    awk 'NF == 0 { exit } /^Suites:/ { print "Suites: bookworm-backports"; next } { print }' \
        "$DEBIAN_SOURCES" > "$BACKPORTS_FILE.tmp"
    grep -q '^Suites: bookworm-backports$' "$BACKPORTS_FILE.tmp" ||
        die "first stanza of $DEBIAN_SOURCES has no Suites: line"
    mv "$BACKPORTS_FILE.tmp" "$BACKPORTS_FILE"
    APT_UPDATED=0   # the new suite needs fresh lists
}

qemu_major() {
    qemu-system-x86_64 --version 2>/dev/null |
        sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p'
}

install_qemu() {
    local major
    major=$(qemu_major)
    if [ -n "$major" ] && [ "$major" -ge "$MIN_QEMU_MAJOR" ]; then
        say "QEMU already installed: $(qemu-system-x86_64 --version | head -1)"
        return
    fi
    apt_update_once
    say "installing qemu-system-x86 from bookworm-backports"
    apt-get install -y -qq -t bookworm-backports qemu-system-x86 >/dev/null
    major=$(qemu_major)
    [ -n "$major" ] && [ "$major" -ge "$MIN_QEMU_MAJOR" ] ||
        die "qemu-system-x86_64 is '$(qemu-system-x86_64 --version | head -1)';" \
            "need >= $MIN_QEMU_MAJOR (check that bookworm-backports is reachable)"
    say "installed $(qemu-system-x86_64 --version | head -1)"
}

install_host_packages() {
    local missing="" pkg
    for pkg in $HOST_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $pkg"
    done
    if [ -z "$missing" ]; then
        say "host packages already installed"
        return
    fi
    apt_update_once
    say "installing:$missing"
    # shellcheck disable=SC2086  # word splitting of the package list is wanted
    apt-get install -y -qq $missing >/dev/null
}

# The meta package linux-image-amd64 depends on one versioned kernel package
# (e.g. linux-image-6.1.0-37-amd64); that is the guest kernel.
guest_kernel_package() {
    apt-cache depends linux-image-amd64 |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1
}

# download_and_unpack PACKAGE DEST: apt-get download + dpkg-deb -x, no install.
download_and_unpack() {
    local pkg=$1 dest=$2 tmp
    tmp=$(mktemp -d)
    # apt-get download fetches as user _apt, which must be able to write here.
    chown _apt "$tmp" 2>/dev/null || chmod 777 "$tmp"
    say "downloading $pkg"
    (cd "$tmp" && apt-get download -qq "$pkg") ||
        { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    say "unpacking $pkg into ${dest#"$BENCH_DIR"/}"
    rm -rf "$dest.partial"
    mkdir -p "$dest.partial"
    dpkg-deb -x "$tmp"/*.deb "$dest.partial"
    rm -rf "$tmp" "$dest"
    mv "$dest.partial" "$dest"   # only a complete unpack gets the real name
}

fetch_guest_kernel() {
    local link=$CACHE_DIR/guest-kernel pkg
    if [ -L "$link" ] && ls "$link"/boot/vmlinuz-* >/dev/null 2>&1; then
        say "guest kernel already unpacked: $(readlink "$link")"
        return
    fi
    apt_update_once
    pkg=$(guest_kernel_package)
    [ -n "$pkg" ] || die "cannot resolve the kernel package that linux-image-amd64 depends on"
    [ -d "$CACHE_DIR/kernel/$pkg/boot" ] ||
        download_and_unpack "$pkg" "$CACHE_DIR/kernel/$pkg"
    ln -sfn "kernel/$pkg" "$link"
    say "guest kernel: $pkg"
}

# The .deb ships no modules.dep (the package's postinst runs depmod);
# build-initramfs.sh needs it to resolve module dependencies.
index_guest_modules() {
    local moddir version
    moddir=$(echo "$CACHE_DIR"/guest-kernel/lib/modules/*)
    version=$(basename "$moddir")
    if [ -f "$moddir/modules.dep" ]; then
        say "guest module index already built ($version)"
        return
    fi
    say "depmod for guest kernel $version"
    depmod -b "$CACHE_DIR/guest-kernel" "$version"
}

fetch_busybox() {
    if [ -x "$CACHE_DIR/busybox/bin/busybox" ]; then
        say "busybox-static already unpacked"
        return
    fi
    apt_update_once
    download_and_unpack busybox-static "$CACHE_DIR/busybox"
    [ -x "$CACHE_DIR/busybox/bin/busybox" ] ||
        die "busybox-static did not contain bin/busybox"
}

# ---------------------------------------------------------------------------
# Host tools for bench/run-tools.sh (the safenic tools' guest tests):
#   tshark          reads back the pcap files `safenic dump` wrote in the guest
#   iputils-ping    ping and ping -6 against `safenic respond`
#   iputils-arping  arping against `safenic respond`
#   groff-base      renders doc/safenic.1 in the man page test (usually there)
# tshark asks (debconf) whether non-root users may capture; the
# noninteractive front end keeps the default (no), which is what we want.
TOOLS_PACKAGES="tshark iputils-ping iputils-arping groff-base"

install_tools_packages() {
    local missing="" pkg
    for pkg in $TOOLS_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $pkg"
    done
    if [ -z "$missing" ]; then
        say "tools-test packages already installed"
        return
    fi
    apt_update_once
    say "installing (tools tests):$missing"
    # shellcheck disable=SC2086  # word splitting of the package list is wanted
    apt-get install -y -qq $missing >/dev/null
}
# ---------------------------------------------------------------------------

main() {
    require_root
    mkdir -p "$CACHE_DIR"
    enable_backports
    install_qemu
    install_host_packages
    install_tools_packages
    fetch_guest_kernel
    index_guest_modules
    fetch_busybox
    say "done: $(qemu-system-x86_64 --version | head -1);" \
        "guest kernel $(basename "$(readlink "$CACHE_DIR/guest-kernel")")"
}

main "$@"
