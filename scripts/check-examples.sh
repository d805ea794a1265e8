#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Compile and link each Documentation/examples/*.c against this build, with
# the packages its first "pkg-config" mention names (libsystemd, libuv).
# Writes TAP to <objtree>/results/examples.tap.
#
# Usage: scripts/check-examples.sh <objtree> "<cc and cflags>" "<libs>" file...
set -u
objtree=$1
cc=$2
libs=$3
shift 3
results=$objtree/results
mkdir -p "$results" "$objtree/examples"
tap=$results/examples.tap
: >"$tap"
n=0
status=0
for f in "$@"; do
	n=$((n + 1))
	name=$(basename "$f" .c)
	# The packages the example's own build line asks pkg-config for.
	pkgs=$(sed -n 's/.*pkg-config --cflags --libs slabcache *\([a-z0-9 -]*\)).*/\1/p' "$f" | head -n 1)
	extra=
	if [ -n "$pkgs" ]; then
		# shellcheck disable=SC2086
		extra=$(pkg-config --cflags --libs $pkgs) || {
			echo "not ok $n - $name: pkg-config $pkgs failed" >>"$tap"
			status=1
			continue
		}
	fi
	# shellcheck disable=SC2086
	if $cc -MF /dev/null -o "$objtree/examples/$name" "$f" $libs $extra; then
		echo "ok $n - $name compiles and links" >>"$tap"
	else
		echo "not ok $n - $name" >>"$tap"
		status=1
	fi
done
echo "1..$n" >>"$tap"
exit $status
