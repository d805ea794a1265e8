#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# slabcached: its connections without sockets (sd-feed), against the socket replies.
# kselftest style: TAP 13 on stdout; the python script prints the lines,
# this wrapper finds the daemon and an interpreter, or skips with a reason.
# Env: SC_SRCTREE, SC_OBJTREE (set by scripts/run-scenarios.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SC_SRCTREE:=$(cd "$here/../.." && pwd)}"
: "${SC_OBJTREE:=$SC_SRCTREE/build}"
export SC_SRCTREE SC_OBJTREE
. "$SC_SRCTREE/selftests/slabcached/lib.sh"
sd_require_daemon "slabcached-feed"
exec timeout 300 "$SD_PYTHON" "$SC_SRCTREE/selftests/slabcached/feed.py"
