#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fetch memcached 1.6.18's source (Debian's source package, for its t/
# suite) into DIR, once: DIR/memcached-1.6.18/t. As root, a deb-src entry
# for the machine's own Debian sources is added if there is none, then
# "apt-get source memcached". Prints the source directory on stdout.
#
# Usage: mcsuite-fetch.sh DIR
# Exit: 0 fetched (or already there), 2 cannot fetch (not root, no
# network, no such version): the reason is on stderr.
set -eu

dir=$1
want=1.6.18
src=$dir/memcached-$want

if [ -f "$src/t/lib/MemcachedTest.pm" ]; then
	echo "$src"
	exit 0
fi
for tool in apt-get dpkg-source perl; do
	command -v $tool >/dev/null 2>&1 || {
		echo "mcsuite-fetch: $tool not installed" >&2
		exit 2
	}
done

has_deb_src() {
	grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list \
		/etc/apt/sources.list.d/ 2>/dev/null
}

if ! has_deb_src; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "mcsuite-fetch: no deb-src entry in the apt sources; as" \
			"root, add one and run: apt-get update &&" \
			"apt-get source memcached" >&2
		exit 2
	fi
	# the machine's own Debian sources, as source entries
	list=/etc/apt/sources.list.d/slabcache-deb-src.sources
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -e 's/^Types: *deb$/Types: deb-src/' \
			/etc/apt/sources.list.d/debian.sources >"$list"
	elif [ -f /etc/apt/sources.list ]; then
		grep -E '^deb ' /etc/apt/sources.list |
			sed -e 's/^deb /deb-src /' \
				>/etc/apt/sources.list.d/slabcache-deb-src.list
	fi
	has_deb_src || {
		echo "mcsuite-fetch: could not derive a deb-src entry" >&2
		exit 2
	}
	apt-get update -qq >&2 || {
		echo "mcsuite-fetch: apt-get update failed" >&2
		exit 2
	}
fi

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt-get source -qq memcached >&2); then
	# the lists may predate the deb-src entry
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq >&2 || true
		(cd "$tmp" && apt-get source -qq memcached >&2) || {
			echo "mcsuite-fetch: apt-get source memcached" \
				"failed" >&2
			exit 2
		}
	else
		echo "mcsuite-fetch: apt-get source memcached failed" >&2
		exit 2
	fi
fi
[ -f "$tmp/memcached-$want/t/lib/MemcachedTest.pm" ] || {
	echo "mcsuite-fetch: the source package is not memcached $want:" \
		$(ls "$tmp") >&2
	exit 2
}
rm -rf "$src"
mv "$tmp/memcached-$want" "$src"
echo "$src"
