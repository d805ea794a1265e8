#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build the Debian packages out of tree: copy the tree's files (the ones git
# tracks or would track, so no build directory comes along) to
# <outdir>/slabcache-<version>, run dpkg-buildpackage -us -uc -b there; the
# .debs, .buildinfo and .changes land in <outdir>.
#
# Usage: scripts/make-deb.sh <srctree> <outdir>; env DEB_BUILD_OPTIONS
# (default parallel=<cores>).
set -eu
srctree=$1
outdir=$2
version=$(cat "$srctree/VERSION")
command -v dpkg-buildpackage >/dev/null 2>&1 || {
	echo "make deb needs dpkg-buildpackage: apt-get install dpkg-dev debhelper" >&2
	exit 1
}
rm -rf "$outdir"
src=$outdir/slabcache-$version
mkdir -p "$src"
if git -C "$srctree" rev-parse --git-dir >/dev/null 2>&1; then
	# one tar reading the list: xargs would start several, and the
	# extracting tar stops at the first one's end-of-archive
	(cd "$srctree" && git ls-files -co --exclude-standard -z |
		tar -cf - --no-recursion --null -T -) | tar -xf - -C "$src"
else
	(cd "$srctree" && tar -cf - --exclude='./build*' --exclude='./debian/build' .) |
		tar -xf - -C "$src"
fi
echo "  DEB     $outdir (dpkg-buildpackage -us -uc -b)"
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}"
# Built with the package's flags (debian/rules, dpkg-buildflags), not with
# the variables of a make that runs this: make coverage's CFLAGS=--coverage
# would reach debian/rules' make through MAKEFLAGS and instrument the
# packaged library.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
if ! (cd "$src" && dpkg-buildpackage -us -uc -b >"$outdir/build.log" 2>&1); then
	tail -n 40 "$outdir/build.log" >&2
	echo "dpkg-buildpackage failed; the whole log is $outdir/build.log" >&2
	exit 1
fi
ls "$outdir"/*.deb | sed 's/^/  DEB     /'
