#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 45
#
# The Debian packages, as a user gets them: build them from this tree
# (scripts/make-deb.sh: dpkg-buildpackage -us -uc -b out of tree), lintian
# with no error, extract them with dpkg-deb -x into a temporary root,
# compile and link Documentation/examples against the extracted
# libslabcache-dev through pkg-config (and run one), run the extracted
# slabcached --version against the extracted libslabcache0.
# kselftest style: TAP 13 on stdout. Skipped with a reason where
# dpkg-buildpackage or debhelper is missing.
# Env: SC_SRCTREE, SC_OBJTREE (set by scripts/run-scenarios.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SC_SRCTREE:=$(cd "$here/../.." && pwd)}"
: "${SC_OBJTREE:=$SC_SRCTREE/build}"
echo "TAP version 13"
skip_all() {
	echo "ok 1 - Debian packages build, pass lintian and work extracted # SKIP $1"
	echo "1..1"
	exit 0
}
command -v dpkg-buildpackage >/dev/null 2>&1 || skip_all "dpkg-buildpackage not installed (dpkg-dev)"
command -v dh >/dev/null 2>&1 || skip_all "dh not installed (debhelper)"
(cd "$SC_SRCTREE" && dpkg-checkbuilddeps) 2>/dev/null ||
	skip_all "build dependencies of debian/control missing (make deps-check installs them)"

n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
show() { sed 's/^/# /' "$@"; }

out=$SC_OBJTREE/deb-scenario
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
version=$(cat "$SC_SRCTREE/VERSION")
start=$(date +%s)
# Quick: no dbgsym packages, the package's own test (headers) is run by
# make check already.
if DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(nproc)" \
	"$SC_SRCTREE/scripts/make-deb.sh" "$SC_SRCTREE" "$out" >"$tmp/deb.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds libslabcache0, libslabcache-dev, slabcached ($(($(date +%s) - start)) s)"
else
	show "$tmp/deb.log"
	notok "dpkg-buildpackage -us -uc -b"
	echo "1..$n"
	exit 1
fi
debs=$(ls "$out"/*.deb)
for p in libslabcache0 libslabcache-dev slabcached; do
	[ -f "$out/${p}_${version}-1_$(dpkg --print-architecture).deb" ] || notok "no package $p"
done

if command -v lintian >/dev/null 2>&1; then
	start=$(date +%s)
	lintian --fail-on error "$out"/*.changes >"$tmp/lintian.log" 2>&1
	rc=$?
	grep -v 'running with root privileges' "$tmp/lintian.log" >"$tmp/lintian.txt"
	if [ $rc -eq 0 ] && ! grep -q '^E:' "$tmp/lintian.txt"; then
		ok "lintian: no error ($(grep -c '^W:' "$tmp/lintian.txt") warnings, $(($(date +%s) - start)) s)"
	else
		notok "lintian reports errors"
	fi
	show "$tmp/lintian.txt"
else
	skip "lintian: no error" "lintian not installed"
fi

root=$tmp/root
for d in $debs; do
	dpkg-deb -x "$d" "$root" || notok "dpkg-deb -x $(basename "$d")"
done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=$root/usr/lib/$ma
missing=
for f in usr/include/slabcache.h usr/include/slabcache/version.h \
	"usr/lib/$ma/libslabcache.so.0" "usr/lib/$ma/libslabcache.a" \
	"usr/lib/$ma/pkgconfig/slabcache.pc" usr/share/man/man3/sc_cache_insert.3.gz \
	usr/share/man/man3/sc_cache_config.3type.gz usr/share/man/man7/slabcache.7.gz \
	usr/share/man/man1/slabcached.1.gz usr/bin/slabcached \
	lib/systemd/system/slabcached.service etc/default/slabcached; do
	[ -e "$root/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
	ok "extracted: headers, shared and static library, .pc, man pages 1/3/7, daemon, unit, /etc/default"
else
	notok "missing from the packages:$missing"
fi
man3=$(find "$root/usr/share/man/man3" -name '*.3.gz' | wc -l)
exported=$(nm -D --defined-only "$libdir/libslabcache.so.0" | awk '$2 == "T"' | wc -l)
if [ "$man3" -ge "$exported" ]; then
	ok "a section-3 page for each of the $exported exported functions ($man3 pages)"
else
	notok "$man3 section-3 pages for $exported exported functions"
fi
if dpkg-deb -I "$out"/libslabcache0_*.deb symbols | grep -q 'sc_cache_insert@LIBSLABCACHE_0.1' &&
	dpkg-deb -f "$out"/slabcached_*.deb Depends | grep -q 'libslabcache0 (>= '; then
	ok "libslabcache0 ships its symbols file; slabcached depends on it through it"
else
	notok "symbols file or slabcached's dependency on libslabcache0"
fi

# Documentation/examples against the extracted dev package: slabcache's
# flags from its .pc under the temporary root, the other packages' from
# the system.
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
sc_flags=$(pkg-config --cflags --libs slabcache)
sc_static=$(pkg-config --static --libs slabcache | sed 's/-lslabcache//')
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
for f in "$SC_SRCTREE"/Documentation/examples/*.c; do
	name=$(basename "$f" .c)
	others=$(sed -n 's/.*pkg-config --cflags --libs slabcache *\([a-z0-9 -]*\)).*/\1/p' "$f" | head -n 1)
	extra=
	# shellcheck disable=SC2086
	if [ -n "$others" ] && ! extra=$(pkg-config --cflags --libs $others 2>/dev/null); then
		skip "$name builds against the extracted package" "pkg-config $others: not installed"
		continue
	fi
	# shellcheck disable=SC2086
	if cc -Wall -Werror -o "$tmp/$name" "$f" $sc_flags $extra 2>"$tmp/cc.log" &&
		LD_LIBRARY_PATH=$libdir ldd "$tmp/$name" | grep -q "$libdir/libslabcache.so.0"; then
		ok "$name compiles and links against the extracted libslabcache-dev (pkg-config)"
	else
		show "$tmp/cc.log"
		notok "$name against the extracted libslabcache-dev"
	fi
done
# shellcheck disable=SC2086
if cc -Wall -Werror -o "$tmp/poll-static" "$SC_SRCTREE/Documentation/examples/pressure-poll.c" \
	$(echo "$sc_flags" | sed 's/-lslabcache//') "$libdir/libslabcache.a" $sc_static 2>"$tmp/cc.log" &&
	! ldd "$tmp/poll-static" | grep -q libslabcache; then
	ok "pressure-poll links statically with libslabcache.a and pkg-config --static"
else
	show "$tmp/cc.log"
	notok "static link against the extracted libslabcache.a"
fi
if [ -x "$tmp/pressure-poll" ]; then
	LD_LIBRARY_PATH=$libdir "$tmp/pressure-poll" 2>"$tmp/poll.log" &
	pid=$!
	sleep 0.5
	kill -USR1 $pid 2>/dev/null
	sleep 0.3
	kill -INT $pid 2>/dev/null
	wait $pid
	rc=$?
	if [ $rc -eq 0 ] && grep -q 'pressure sources' "$tmp/poll.log"; then
		ok "pressure-poll runs on the extracted library: SIGUSR1 dispatched, SIGINT exits 0"
	else
		show "$tmp/poll.log"
		notok "pressure-poll on the extracted library (exit $rc)"
	fi
fi

v=$(LD_LIBRARY_PATH=$libdir "$root/usr/bin/slabcached" --version 2>&1)
if echo "$v" | grep -q "libslabcache $version" &&
	LD_LIBRARY_PATH=$libdir ldd "$root/usr/bin/slabcached" | grep -q "$libdir/libslabcache.so.0"; then
	ok "extracted slabcached --version: $v"
else
	notok "extracted slabcached --version: $v"
fi
if command -v systemd-analyze >/dev/null 2>&1 &&
	e=$(systemd-analyze security --offline=true "$root/lib/systemd/system/slabcached.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p') && [ -n "$e" ]; then
	if grep -q '^ExecStart=/usr/bin/slabcached ' "$root/lib/systemd/system/slabcached.service" &&
		awk "BEGIN { exit !($e <= 2.0) }"; then
		ok "the packaged unit runs /usr/bin/slabcached; exposure $e"
	else
		notok "the packaged unit: ExecStart= or exposure $e"
	fi
else
	skip "the packaged unit's exposure" "systemd-analyze --offline not available"
fi
echo "1..$n"
exit $fail
