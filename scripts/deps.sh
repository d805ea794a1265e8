#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Install the Debian packages that building and testing slabcache need.
# As root, missing packages are installed with apt-get; otherwise the exact
# command is printed and the script fails, so make stops.
#
# Usage: scripts/deps.sh [--check] [extra-package...]
set -eu

# Building and running: compiler, pkg-config, jemalloc, netcat for the
# README's one-liner.
PACKAGES="build-essential make pkg-config libjemalloc-dev netcat-openbsd"

# Testing (--check): Criterion, clang-format, kernel-doc (linux-kbuild-6.1),
# a C++ compiler for the header check, libsystemd and libuv for the
# documentation's examples, and what the scenario scripts drive: stress-ng,
# python3, Debian's memcached and its clients as the daemon's peers, and
# zstd for the cache's trace-replay tests (the .zst traces); abidiff
# (abigail-tools) for the ABI check; Sphinx for the man pages and HTML;
# debhelper and lintian for the Debian package scenario; nutcracker
# (twemproxy) and python3-pylibmc (libmemcached's ketama) for the
# scale-out scenario (nutcracker ships no pool, so its service stays idle).
# perl for memcached's own t/ suite (its source comes from "apt-get
# source memcached", which needs dpkg-dev).
# Installing memcached starts its service on port 11211 where systemd
# runs, which is why `make run` does not pull it in.
if [ "${1:-}" = --check ]; then
	shift
	PACKAGES="$PACKAGES libcriterion-dev clang-format linux-kbuild-6.1 g++
stress-ng python3 libsystemd-dev libuv1-dev memcached libmemcached-tools
python3-pymemcache zstd abigail-tools python3-sphinx dpkg-dev debhelper
lintian nutcracker python3-pylibmc perl"
fi
PACKAGES="$PACKAGES $*"

missing=
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "slabcache needs these Debian packages:$missing" >&2
	echo "Install them as root with:" >&2
	echo "    apt-get update && $cmd" >&2
	exit 1
fi

echo "  DEPS   installing$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has empty package lists; refresh them once, and again if
# the install fails on stale lists.
if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
	apt-get update -qq
fi
if ! $cmd -qq >/dev/null; then
	apt-get update -qq
	$cmd -qq >/dev/null
fi
