#!/usr/bin/env bash
# What the guest benchmarks need beyond bench/install-deps.sh:
#   - gnuplot-nox on the host, for the plots;
#   - DPDK 22.11's testpmd and its shared libraries for the guest, from
#     Debian's packages: downloaded and unpacked (dpkg-deb -x), never
#     installed on the host.
#
#   sudo benchmarks/install-bench-deps.sh
#
# Produces bench/.cache/dpdk/:
#   debs/        the downloaded packages
#   root/        all of them unpacked
#   guest/       what goes into the guest image (build-initramfs.sh's
#                EXTRA_DIR): usr/bin/dpdk-testpmd, the closure of shared
#                libraries it and the three plugins below need, in
#                usr/lib/x86_64-linux-gnu/, the plugins in the PMD
#                directory, and the dynamic loader at /lib64
#   version      the dpdk-dev version unpacked (a rerun with the same
#                version does nothing and needs no network)
#
# Plugins: EAL loads every *.so and *.so.23.0 file of its PMD directory
# (/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0). Only the ones the bench
# needs go there: net_e1000 (e1000e and igb), net_virtio, mempool_ring
# (testpmd's packet pools). The bus drivers are linked into testpmd.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=bench/.cache/dpdk
export DEBIAN_FRONTEND=noninteractive
libdir=usr/lib/x86_64-linux-gnu
pmddir=$libdir/dpdk/pmds-23.0
plugins="librte_net_e1000 librte_net_virtio librte_mempool_ring"
# The packages asked for by name; their library dependencies follow.
roots="dpdk-dev librte-net-e1000-23 librte-net-virtio23 librte-mempool-ring23"

say() { echo "install-bench-deps: $*"; }
die() { echo "install-bench-deps: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get)"

updated=0
apt_update_once() {
	[ "$updated" -eq 1 ] || { say "apt-get update"; apt-get update -qq; updated=1; }
}

if ! command -v gnuplot >/dev/null; then
	apt_update_once
	say "installing gnuplot-nox"
	apt-get install -y -qq gnuplot-nox >/dev/null
fi

# Candidate version of a package, from the package lists.
candidate() {
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'
}

version=$(candidate dpdk-dev)
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
	apt_update_once
	version=$(candidate dpdk-dev)
fi
[ -n "$version" ] && [ "$version" != "(none)" ] || die "no dpdk-dev package in the package lists"
if [ -f "$cache/version" ] && [ "$(cat "$cache/version")" = "$version" ] &&
	[ -x "$cache/guest/usr/bin/dpdk-testpmd" ]; then
	say "DPDK $version already unpacked in $cache"
	exit 0
fi

# Library packages the roots depend on, recursively: Depends and
# Pre-Depends, the first of each alternative, without the C library
# (taken from the host, it is always installed) and without what a
# running testpmd does not need (headers, python, tools).
packages() {
	local want=$roots next p d seen=" "
	while [ -n "$want" ]; do
		next=""
		for p in $want; do
			seen="$seen$p "
		done
		# shellcheck disable=SC2086  # one word per package
		for d in $(apt-cache show --no-all-versions $want |
			sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',' '\n' |
			sed 's/|.*//; s/(.*//; s/:any//; s/ //g' | sort -u); do
			case $d in
			libc6 | libgcc-s1 | *-dev | python3* | perl*) continue ;;
			esac
			case $seen$next in *" $d "*) continue ;; esac
			case $d in lib* | ibverbs-providers | zlib1g) next="$next $d " ;; esac
		done
		want=$next
	done
	echo "$seen"
}

say "downloading DPDK $version and its libraries"
rm -rf "$cache"
mkdir -p "$cache/debs" "$cache/root"
# shellcheck disable=SC2046  # one word per package
(cd "$cache/debs" && apt-get download -q $(packages) 2>&1 | grep -v '^Get:' | grep -v unsandboxed || true)
for deb in "$cache"/debs/*.deb; do
	dpkg-deb -x "$deb" "$cache/root"
done
[ -x "$cache/root/usr/bin/dpdk-testpmd" ] || die "dpdk-dev has no usr/bin/dpdk-testpmd"

# find_lib SONAME: the file that provides SONAME, in the unpacked
# packages first, then on the host (the C library).
find_lib() {
	local dir
	for dir in "$cache/root/$libdir" "$cache/root/lib/x86_64-linux-gnu" \
		/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
		[ -e "$dir/$1" ] && { readlink -f "$dir/$1"; return; }
	done
}

# The closure of shared libraries of testpmd and the plugins, each copied
# under its soname.
guest=$cache/guest
mkdir -p "$guest/usr/bin" "$guest/$pmddir" "$guest/lib64"
cp "$cache/root/usr/bin/dpdk-testpmd" "$guest/usr/bin/"
queue="$guest/usr/bin/dpdk-testpmd"
for p in $plugins; do
	cp "$cache/root/$pmddir/$p.so.23.0" "$guest/$pmddir/"
	queue="$queue $guest/$pmddir/$p.so.23.0"
done
done_libs=" "
while [ -n "$queue" ]; do
	next=""
	for f in $queue; do
		for so in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $done_libs in *" $so "*) continue ;; esac
			done_libs="$done_libs$so "
			src=$(find_lib "$so")
			[ -n "$src" ] || die "no file provides $so (needed by $(basename "$f"))"
			cp "$src" "$guest/$libdir/$so"
			next="$next $guest/$libdir/$so"
		done
	done
	queue=$next
done
# glibc loads libgcc_s for thread cancellation (pthread_cancel/exit).
cp "$(readlink -f /lib/x86_64-linux-gnu/libgcc_s.so.1)" "$guest/$libdir/libgcc_s.so.1"
cp "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$guest/lib64/ld-linux-x86-64.so.2"
echo "$version" > "$cache/version"
say "DPDK $version for the guest: $(echo "$done_libs" | wc -w) libraries," \
	"$(du -sm "$guest" | cut -f1) MiB in $guest"
