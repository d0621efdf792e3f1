#!/bin/sh
# Runs the built safenic binary on command lines that need no device:
# help, version, usage errors (exit 2, naming the bad argument), and a
# malformed PCI address. Usage: cli_test.sh PATH/TO/safenic
set -u

bin=${1:?usage: cli_test.sh PATH/TO/safenic}
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	echo "  stdout: $(head -c 600 "$out")" >&2
	echo "  stderr: $(head -c 600 "$err")" >&2
	failures=$((failures + 1))
}

# expect STATUS TEXT ARGS...: exit status STATUS, and TEXT (may be empty)
# somewhere in stdout or stderr.
expect() {
	want_status=$1
	want_text=$2
	shift 2
	"$bin" "$@" >"$out" 2>"$err" </dev/null
	status=$?
	if [ "$status" -ne "$want_status" ]; then
		fail "safenic $*: exit $status, expected $want_status"
	elif [ -n "$want_text" ] && ! grep -qF -- "$want_text" "$out" "$err"; then
		fail "safenic $*: output lacks '$want_text'"
	fi
}

expect 0 "Usage: safenic COMMAND" --help
expect 0 "Usage: safenic COMMAND" help
expect 0 "safenic " --version
expect 2 "Usage: safenic COMMAND"
expect 2 "unknown command 'frobnicate'" frobnicate

expect 0 "Usage: safenic devices" devices --help
expect 0 "--count N" gen --help
expect 0 "(default: 60)" gen --help
expect 0 "(default: ff:ff:ff:ff:ff:ff)" gen --help
expect 0 "Usage: safenic fwd DEV_A DEV_B" fwd --help
expect 0 "(default: 250ms)" fwd --help
expect 0 "--idle-timeout SEC" recv --help
expect 0 "(default: 3s)" recv --help
expect 0 "Usage: safenic recv" help recv
expect 0 "Usage: safenic gen" gen 0000:00:03.0 --rate 5 -h
expect 0 "-w, --write FILE" dump --help
expect 0 "--snaplen N" dump --help
expect 0 "--nano" dump --help
expect 0 "--ip6 ADDR6" respond --help
expect 0 "(default: none)" respond --help
expect 0 "--user NAME" bind --help
expect 0 "(default: root keeps it)" bind --help
expect 0 "Usage: safenic unbind DEV" unbind --help
expect 0 "(default: 2M)" hugepages --help
expect 0 "Usage: safenic dump" help dump
for cmd in gen fwd recv dump respond; do
	expect 0 "--json" "$cmd" --help
done
expect 0 "DMA memory of one run with default options" hugepages

expect 2 "--bogus" gen 0000:00:03.0 --bogus
expect 2 "--bogus" fwd 0000:00:03.0 0000:00:04.0 --bogus=1
expect 2 "--bogus" recv 0000:00:03.0 --bogus
expect 2 "--bogus" devices --bogus
expect 2 "--size" gen 0000:00:03.0 --size 59
expect 2 "--size" gen 0000:00:03.0 --size 1515
expect 2 "--batch" gen 0000:00:03.0 --batch 0
expect 2 "--rate" gen 0000:00:03.0 --rate 10x
expect 2 "--dst-mac" gen 0000:00:03.0 --dst-mac 02:00:00:00:00
expect 2 "--src-ip" gen 0000:00:03.0 --src-ip 10.0.0.256
expect 2 "--flows" gen 0000:00:03.0 --flows 0
expect 2 "--flows" gen 0000:00:03.0 --flows 65537
expect 2 "past 65535" gen 0000:00:03.0 --flows 64 --src-port 65500
expect 2 "--duration" fwd 0000:00:03.0 0000:00:04.0 --duration soon
expect 2 "--idle-timeout" recv 0000:00:03.0 --idle-timeout -1
expect 2 "--tx-wait" fwd 0000:00:03.0 0000:00:04.0 --tx-wait 1x
expect 2 "expected poll, interrupt or adaptive" fwd 0000:00:03.0 0000:00:04.0 --mode spin
expect 2 "not a list of cores" fwd 0000:00:03.0 0000:00:04.0 --cores 3-1
expect 2 "--queues" fwd 0000:00:03.0 0000:00:04.0 --queues 9
expect 0 "--mode MODE" fwd --help
expect 0 "--ring N" fwd --help
expect 2 "--unsafe takes no value" gen 0000:00:03.0 --unsafe=1
expect 2 "--count needs a value" recv 0000:00:03.0 --count
expect 2 "cannot check --expect" recv 0000:00:03.0 --count-only --expect 10
expect 0 "--count-only" recv --help
expect 2 "missing argument" gen
expect 2 "missing argument" fwd 0000:00:03.0
expect 2 "unexpected argument" recv 0000:00:03.0 0000:00:04.0

# Needs the library's address parser; no device is touched.
expect 2 "'zz:not-pci' is not a PCI address" gen zz:not-pci
expect 2 "is not a PCI address" recv not-an-address
expect 2 "same device" fwd 0000:00:03.0 00:03.0

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all checks passed"
