#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Old binaries keep working (Documentation/abi.rst), shown on this build:
#  1. a program built against the frozen 0.1 headers (abi/LIBSLABCACHE_0.1)
#     runs against this library, bound to LIBSLABCACHE_0.1;
#  2. rehearsal of a struct growing by the rule: this build's objects, with
#     sc_cache_stats renamed, plus abi/compat/grown_stats.c (fields
#     appended, a LIBSLABCACHE_0.2 definition and the 0.1 one kept): the 0.1
#     program still runs, a program built against the grown header gets the
#     new field;
#  3. the same growth done in place (abi/compat/grown_in_place.c): the 0.1
#     program finds its guard bytes overwritten, and abidiff reports it.
# Prints TAP lines (no plan) for scripts/check-abi.sh.
#
# Usage: scripts/check-abi-compat.sh <srctree> <objtree> <libslabcache.so>
#        "<cc>" <scratch dir>; env ABI_LIBS (the library's link flags),
#        ABI_NODE, ABIDW_FLAGS.
set -u
srctree=$1
objtree=$2
solib=$3
cc=$4
tmp=$5/compat
mkdir -p "$tmp"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
show() { sed 's/^/# /' "$@"; }
cflags="-std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE"

# 1. The 0.1 program against this library.
old=$tmp/old_binary
# shellcheck disable=SC2086
if $cc $cflags -I"$srctree/abi/LIBSLABCACHE_0.1/include" -o "$old" \
	"$srctree/abi/compat/old_binary.c" -L"$(dirname "$solib")" -lslabcache 2>"$tmp/cc.log"; then
	:
else
	show "$tmp/cc.log"
	notok "a program builds against the frozen 0.1 headers"
	exit 0
fi
unbound=$(objdump -T "$old" | awk '/\*UND\*/ && $NF ~ /^sc_/ && $(NF-1) != "(LIBSLABCACHE_0.1)"')
if LD_LIBRARY_PATH=$(dirname "$solib") "$old" >"$tmp/run.log" 2>&1 && [ -z "$unbound" ]; then
	ok "a program built against the 0.1 headers runs against this library, bound to LIBSLABCACHE_0.1"
else
	show "$tmp/run.log"
	echo "# $unbound"
	notok "a program built against the 0.1 headers runs against this library"
fi

if [ "$ABI_NODE" != LIBSLABCACHE_0.1 ] ||
	! grep -q 'size_t pinned;' "$srctree/include/slabcache/cache.h"; then
	echo "# the rehearsal grows the 0.1 struct sc_cache_stats; retire it once a release has"
	exit 0
fi

# 2. The rehearsal: "0.2" appends sc_cache_stats.lookups.
grown=$tmp/grown-include
cp -r "$srctree/include" "$grown"
sed -i 's/^\tsize_t pinned;$/\tsize_t pinned;\n\tunsigned long long lookups;/' "$grown/slabcache/cache.h"
mkdir -p "$tmp/objs"
(cd "$tmp/objs" && ar x "$objtree/libslabcache.a") || { notok "ar x libslabcache.a"; exit 0; }
for o in "$tmp"/objs/*.o; do
	objcopy --redefine-sym sc_cache_stats=sc_cache_stats_0_1_code "$o"
done
libcflags="$cflags -g -fPIC -fvisibility=hidden -I$grown -I$objtree -I$srctree"
sed 's/@SC_ABI_NODE@/LIBSLABCACHE_0.1/g' "$srctree/libslabcache.map.in" >"$tmp/v0.1.map"
{
	cat "$tmp/v0.1.map"
	echo "LIBSLABCACHE_0.2 { global: sc_cache_stats; } LIBSLABCACHE_0.1;"
} >"$tmp/v0.2.map"
# build_lib DIR SOURCE MAP: a libslabcache.so.0 in DIR.
build_lib()
{
	mkdir -p "$1"
	# shellcheck disable=SC2086
	$cc $libcflags -c -o "$1/extra.o" "$2" 2>"$1/cc.log" &&
		$cc -shared -Wl,-soname,libslabcache.so.0 -Wl,--version-script="$3" \
			-Wl,--no-undefined -o "$1/libslabcache.so.0" "$tmp"/objs/*.o \
			"$1/extra.o" $ABI_LIBS 2>>"$1/cc.log" &&
		ln -sf libslabcache.so.0 "$1/libslabcache.so"
}
if build_lib "$tmp/v0.2" "$srctree/abi/compat/grown_stats.c" "$tmp/v0.2.map"; then
	:
else
	show "$tmp/v0.2/cc.log"
	notok "the rehearsal library builds (struct grown, two versions of sc_cache_stats)"
	exit 0
fi
vers=$(nm -D --defined-only "$tmp/v0.2/libslabcache.so.0" | awk '$3 ~ /^sc_cache_stats@/ { print $3 }' | sort | tr '\n' ' ')
if [ "$vers" = "sc_cache_stats@@LIBSLABCACHE_0.2 sc_cache_stats@LIBSLABCACHE_0.1 " ]; then
	ok "rehearsal of a grown struct: sc_cache_stats@@LIBSLABCACHE_0.2 and @LIBSLABCACHE_0.1 both exported"
else
	notok "rehearsal library exports both versions of sc_cache_stats: $vers"
fi
if LD_LIBRARY_PATH=$tmp/v0.2 "$old" >"$tmp/run2.log" 2>&1; then
	ok "the 0.1 program runs unchanged against the grown library (no byte past the 0.1 struct written)"
else
	show "$tmp/run2.log"
	notok "the 0.1 program runs against the grown library"
fi
new=$tmp/new_binary
# shellcheck disable=SC2086
if $cc $cflags -I"$grown" -I"$objtree" -o "$new" "$srctree/abi/compat/new_binary.c" \
	-L"$tmp/v0.2" -lslabcache 2>"$tmp/ccn.log" &&
	objdump -T "$new" | grep -q 'LIBSLABCACHE_0.2) *sc_cache_stats$' &&
	LD_LIBRARY_PATH=$tmp/v0.2 "$new" >"$tmp/run3.log" 2>&1; then
	ok "a program built against the grown header binds to LIBSLABCACHE_0.2 and reads the new field"
else
	show "$tmp/ccn.log" "$tmp/run3.log" 2>/dev/null
	notok "a program built against the grown header gets the new field"
fi

# 3. The same growth in place, under the 0.1 node.
if build_lib "$tmp/inplace" "$srctree/abi/compat/grown_in_place.c" "$tmp/v0.1.map"; then
	LD_LIBRARY_PATH=$tmp/inplace "$old" >"$tmp/run4.log" 2>&1
	rc=$?
	if [ $rc -eq 3 ]; then
		ok "grown in place instead, the 0.1 program finds bytes past its struct overwritten ($(cat "$tmp/run4.log"))"
	else
		show "$tmp/run4.log"
		notok "grown in place, the 0.1 program should see its guard overwritten (exit $rc, not 3)"
	fi
	if command -v abidw >/dev/null 2>&1; then
		# shellcheck disable=SC2086
		abidw $ABIDW_FLAGS --headers-dir "$grown" --headers-dir "$objtree/slabcache" \
			--out-file "$tmp/inplace.abi" "$tmp/inplace/libslabcache.so.0" 2>/dev/null
		abidiff --no-show-locs "$srctree/abi/LIBSLABCACHE_0.1.abi" "$tmp/inplace.abi" >"$tmp/inplace.diff" 2>&1
		if [ $? -ne 0 ] && grep -q "type size changed from 832 to 896" "$tmp/inplace.diff"; then
			ok "abidiff reports the in-place growth (struct sc_cache_stats: size changed from 832 to 896 bits)"
		else
			show "$tmp/inplace.diff"
			notok "abidiff reports the in-place growth of struct sc_cache_stats"
		fi
	fi
else
	show "$tmp/inplace/cc.log"
	notok "the in-place library builds"
fi
