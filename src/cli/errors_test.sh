#!/bin/sh
# Bad input for each command, on the host (no device is opened; nothing is
# bound): every case must exit non-zero with a message naming the problem
# and the fix; a runtime error (exit 1) must be exactly one line.
# The cases that need a device (one in use, a disk filling up during a
# capture, missing huge pages, no IOMMU in a guest) are in the guest bench:
# bench/guest/scenarios/tools-errors.sh and tools-dump.sh.
#
#   errors_test.sh PATH/TO/safenic
set -u

bin=${1:?usage: errors_test.sh PATH/TO/safenic}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out
err=$work/err
failures=0
cases=0

# A syntactically valid address where no machine has a device.
NODEV=0000:ff:1f.7

fail() {
	echo "FAIL: $*" >&2
	echo "  stdout: $(head -c 600 "$out")" >&2
	echo "  stderr: $(head -c 600 "$err")" >&2
	failures=$((failures + 1))
}

# case NAME STATUS PROBLEM FIX -- ARGS...: exit STATUS; stderr holds both
# texts; exit 1 means exactly one line on stderr.
case_() {
	name=$1 want_status=$2 problem=$3 fix=$4
	shift 5
	cases=$((cases + 1))
	"$bin" "$@" >"$out" 2>"$err" </dev/null
	status=$?
	if [ "$status" -ne "$want_status" ]; then
		fail "$name: safenic $*: exit $status, expected $want_status"
	elif ! grep -qF -- "$problem" "$err"; then
		fail "$name: safenic $*: stderr lacks the problem '$problem'"
	elif ! grep -qF -- "$fix" "$err"; then
		fail "$name: safenic $*: stderr lacks the fix '$fix'"
	elif [ "$want_status" -eq 1 ] && [ "$(wc -l < "$err")" -ne 1 ]; then
		fail "$name: safenic $*: $(wc -l < "$err") lines on stderr, expected one"
	else
		echo "ok   $name"
	fi
}

for cmd in gen recv dump respond bind unbind; do
	extra=""
	case $cmd in dump) extra="-w $work/x.pcap" ;; respond) extra="--ip 10.0.0.1" ;; esac
	# shellcheck disable=SC2086
	case_ "malformed-address-$cmd" 2 "'00:1g.0' is not a PCI address" \
		"'safenic devices' lists" -- $cmd 00:1g.0 $extra
	# shellcheck disable=SC2086
	case_ "no-such-device-$cmd" 1 "no PCI device" "safenic devices" -- \
		$cmd $NODEV $extra
done
case_ malformed-address-fwd 2 "is not a PCI address" "safenic devices" -- \
	fwd 0000:00:03.0 zz
case_ no-such-device-fwd 1 "no PCI device" "safenic devices" -- \
	fwd $NODEV 0000:ff:1e.7

# gen: a frame longer than the MTU allows is refused before any device
# is touched, naming the limit; --mtu below IPv4's minimum likewise.
case_ gen-size-over-mtu 2 "--size 1515 is longer than --mtu 1500 allows" \
	"give a smaller --size or a larger --mtu" -- gen $NODEV --size 1515
case_ gen-size-over-given-mtu 2 "frames of at most 590 bytes" "larger --mtu" -- \
	gen $NODEV --mtu 576 --size 600
case_ mtu-below-minimum 2 "out of range 68..65535" "safenic recv --help" -- \
	recv $NODEV --mtu 67

# dump: the output file is checked before the device (so with NODEV the
# message is about the file).
case_ dump-missing-dir 1 "No such file or directory" "choose another path" -- \
	dump $NODEV -w "$work/no/such/dir/x.pcap"
case_ dump-is-directory 1 "Is a directory" "give a file name" -- \
	dump $NODEV -w "$work"
if [ -w /dev/full ]; then
	case_ dump-disk-full 1 "No space left on device" "free some space" -- \
		dump $NODEV -w /dev/full
fi
if [ "$(id -u)" -ne 0 ]; then
	case_ dump-no-permission 1 "Permission denied" "writable path" -- \
		dump $NODEV -w /proc/version
fi
[ ! -e "$work/x.pcap" ] || fail "dump left $work/x.pcap behind after failing"
case_ dump-no-file 2 "missing -w FILE" "safenic dump --help" -- dump $NODEV
case_ dump-snaplen-zero 2 "--snaplen" "safenic dump --help" -- \
	dump $NODEV -w "$work/x.pcap" --snaplen 0
case_ dump-snaplen-big 2 "out of range 1..65535" "safenic dump --help" -- \
	dump $NODEV -w "$work/x.pcap" --snaplen 65536

# respond
case_ respond-no-address 2 "give the address" "--ip ADDR" -- respond $NODEV
case_ respond-bad-ip 2 "'10.0.0.300' is not an IPv4 address" "10.0.0.1" -- \
	respond $NODEV --ip 10.0.0.300
case_ respond-bad-ip6 2 "'fd00::/64' is not an IPv6 address" "without /prefix" -- \
	respond $NODEV --ip6 fd00::/64

# bind, unbind
case_ bind-no-user 2 "no user 'no-such-user-here'" "numeric uid" -- \
	bind $NODEV --user no-such-user-here

# hugepages
case_ hugepages-bad-size 2 "--size" "use 2M or 1G" -- hugepages --size 3M
case_ hugepages-bad-count 2 "--reserve" "safenic hugepages --help" -- \
	hugepages --reserve lots
if [ "$(id -u)" -ne 0 ]; then
	case_ hugepages-not-root 1 "needs root" "sudo" -- hugepages --reserve 1
fi

# A real device that is not bound to vfio-pci: on a machine without an
# IOMMU the check says so, with one it names the driver. Only sysfs is
# read (the check refuses before anything is opened); bind is never run
# on a real device here.
for dev in /sys/bus/pci/devices/*; do
	[ -e "$dev/driver" ] || continue
	driver=$(basename "$(readlink "$dev/driver")")
	[ "$driver" != vfio-pci ] || continue
	addr=$(basename "$dev")
	if [ -e "$dev/iommu_group" ]; then
		case_ bound-to-other-driver 1 "bound to the kernel driver $driver" \
			"safenic bind $addr" -- recv "$addr"
	else
		case_ no-iommu 1 "the IOMMU is off" "intel_iommu=on" -- recv "$addr"
	fi
	break
done

echo "$cases cases, $failures failed"
[ "$failures" -eq 0 ]
