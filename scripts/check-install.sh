#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Install (PREFIX=/opt/slabcache, outside the compiler's default paths,
# which pkg-config would otherwise drop) into a temporary DESTDIR, then build and run a small program
# against it with `pkg-config --cflags --libs slabcache`, shared and static.
# Also checks that the shared library exports nothing but sc_* symbols.
# Writes TAP to <objtree>/results/install.tap.
set -u
srctree=$1
objtree=$2
results=$objtree/results
mkdir -p "$results"
tap=$results/install.tap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1" >>"$tap"; echo "  PASS    install: $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1" >>"$tap"; echo "  FAIL    install: $1" >&2; fail=1; }
: >"$tap"

dest=$tmp/dest
if make -s -f "$srctree/Makefile" O="$objtree" install PREFIX=/opt/slabcache \
	LIBDIR=/opt/slabcache/lib DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
	ok "make install DESTDIR"
else
	cat "$tmp/install.log" >&2
	notok "make install DESTDIR"
	exit 1
fi

for f in opt/slabcache/include/slabcache.h opt/slabcache/include/slabcache/cache.h \
	opt/slabcache/include/slabcache/version.h \
	opt/slabcache/lib/libslabcache.a opt/slabcache/lib/libslabcache.so opt/slabcache/lib/libslabcache.so.0 \
	opt/slabcache/lib/pkgconfig/slabcache.pc; do
	if [ -e "$dest/$f" ]; then ok "installed $f"; else notok "installed $f"; fi
done

cat >"$tmp/prog.c" <<'PROG'
#include <slabcache.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct sc_slab *s = sc_slab_create("install-test", 24, 0, 0);
	void *p = s ? sc_slab_alloc(s) : NULL;

	if (!p)
		return 1;
	memset(p, 0, 24);
	sc_slab_free(s, p);
	sc_slab_destroy(s);
	printf("%s %s\n", sc_version_string(), sc_alloc_backend());
	return 0;
}
PROG

export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_PATH="$dest/opt/slabcache/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$dest/opt/slabcache/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"
flags=$(pkg-config --cflags --libs slabcache) || notok "pkg-config --cflags --libs slabcache"
# shellcheck disable=SC2086
if cc -o "$tmp/prog" "$tmp/prog.c" $flags 2>"$tmp/cc.log" &&
	out=$(LD_LIBRARY_PATH="$dest/opt/slabcache/lib" "$tmp/prog") &&
	LD_LIBRARY_PATH="$dest/opt/slabcache/lib" ldd "$tmp/prog" | grep -q "$dest/opt/slabcache/lib/libslabcache.so.0"; then
	ok "shared link with pkg-config ($out)"
else
	cat "$tmp/cc.log" >&2
	notok "shared link with pkg-config"
fi

# Static: the archive by path, plus what `pkg-config --static` says it needs.
slibs=$(pkg-config --static --libs slabcache | sed 's/-L[^ ]*//g; s/-lslabcache//g')
# shellcheck disable=SC2086
if cc -o "$tmp/prog-static" "$tmp/prog.c" $(pkg-config --cflags slabcache) \
	"$dest/opt/slabcache/lib/libslabcache.a" $slibs 2>"$tmp/ccs.log" &&
	"$tmp/prog-static" >/dev/null &&
	! ldd "$tmp/prog-static" | grep -q libslabcache; then
	ok "static link with pkg-config --static"
else
	cat "$tmp/ccs.log" >&2
	notok "static link with pkg-config --static"
fi

bad=$(nm -D --defined-only "$dest/opt/slabcache/lib/libslabcache.so" |
	awk '$3 !~ /^sc_/ && $3 !~ /^LIBSLABCACHE_/ { print $3 }')
if [ -z "$bad" ]; then ok "only sc_* symbols exported"; else notok "exports non-sc_ symbols: $bad"; fi
if readelf -d "$dest/opt/slabcache/lib/libslabcache.so" | grep -q 'SONAME.*libslabcache.so.0'; then
	ok "SONAME libslabcache.so.0"
else
	notok "SONAME libslabcache.so.0"
fi
exit $fail
