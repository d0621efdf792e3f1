#!/bin/sh
# The install, as a user of the library sees it: `cmake --install` into a
# prefix inside the build folder, then examples/count.c compiled with the
# system's cc and nothing but `pkg-config --cflags --libs safenic`, linked
# against the shared library and, separately, the static one, and run.
#
#   install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]
# EXTRA_CFLAGS: -fsanitize=... when the library was built with sanitizers
# (their runtime must then come first in the program too).
set -eu

build=$1 src=$2 extra=${3:-}
prefix=$build/install-test
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" > "$build/install-test.log"

fail() { echo "FAIL: $*" >&2; exit 1; }

pc=$(find "$prefix" -name safenic.pc | head -1)
[ -n "$pc" ] || fail "no safenic.pc installed under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in "$libdir/libsafenic.a" "$libdir/libsafenic.so" "$prefix/include/safenic/safenic.h" \
         "$prefix/bin/safenic" "$prefix/share/man/man1/safenic.1"; do
	[ -e "$f" ] || fail "$f was not installed"
done
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
cflags=$(pkg-config --cflags safenic)
libs=$(pkg-config --libs safenic)
echo "pkg-config: version $(pkg-config --modversion safenic), cflags '$cflags', libs '$libs'"

# shellcheck disable=SC2086  # the flags are separate words
cc -std=c11 -Wall -Wextra -Werror $extra "$src/examples/count.c" $cflags $libs \
	-o "$build/example-count" || fail "the example did not build against the shared library"
LD_LIBRARY_PATH=$(pkg-config --variable=libdir safenic) "$build/example-count" \
	> "$build/example-count.out" || fail "the example (shared) failed: $(cat "$build/example-count.out")"
grep -q 'network device' "$build/example-count.out" || fail "unexpected output: $(cat "$build/example-count.out")"
LD_LIBRARY_PATH=$(pkg-config --variable=libdir safenic) ldd "$build/example-count" |
	grep -q "$prefix/.*libsafenic\.so" || fail "the example did not link the installed libsafenic.so"

# The archive, then what it needs (pkg-config's private libraries: libxdp
# and libbpf when the library has AF_XDP), without -lsafenic itself.
private=$(pkg-config --static --libs safenic | tr ' ' '\n' | grep -v -e '^-lsafenic$' -e '^-L' |
	tr '\n' ' ')
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror $extra "$src/examples/count.c" $cflags \
	"$(pkg-config --variable=libdir safenic)/libsafenic.a" $private -o "$build/example-count-static" ||
	fail "the example did not build against the static library"
"$build/example-count-static" > "$build/example-count-static.out" ||
	fail "the example (static) failed"
echo "example: $(tail -1 "$build/example-count.out") (shared and static)"
