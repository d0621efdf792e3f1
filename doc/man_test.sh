#!/bin/sh
# Checks doc/safenic.1 against the tool: every command of `safenic --help`
# has a section, and every option every command's --help lists appears in
# the page (as \-\-name). Then, where groff is installed, the page must
# render without a single warning (-ww), and man(1) must take it too.
#
#   man_test.sh PATH/TO/safenic.1 PATH/TO/safenic
set -u

page=$1 bin=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

commands=$("$bin" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$commands" ] || fail "no commands in 'safenic --help'"
checked=0
for cmd in $commands; do
	grep -q "^\.SS \"safenic $cmd" "$page" || fail "no section for 'safenic $cmd'"
	options=$("$bin" "$cmd" --help | sed -n '/^Options:/,$p' |
		grep -oE -- '--[a-z0-9-]+' | sort -u)
	for opt in $options; do
		[ "$opt" = --help ] && continue
		escaped=$(echo "$opt" | sed 's/-/\\\\-/g')
		grep -q -- "$escaped" "$page" || fail "'safenic $cmd $opt' is not in the page"
		checked=$((checked + 1))
	done
done
echo "checked $(echo "$commands" | wc -w) commands and $checked options against $page"

if command -v groff > /dev/null; then
	warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	[ -z "$warnings" ] || fail "groff warns: $warnings"
	echo "groff renders it without warnings"
fi
if command -v man > /dev/null; then
	out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 > /dev/null)
	[ -z "$out" ] || fail "man -l warns: $out"
	lines=$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
	[ "$lines" -gt 100 ] || fail "man -l rendered only $lines lines"
	echo "man -l renders $lines lines"
fi
[ "$failures" -eq 0 ]
