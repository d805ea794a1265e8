#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# slabcached --policy: the option, an item S3-FIFO turns away, and a short
# Zipf 0.99 replay through pymemcache where s3fifo must beat lru.
# kselftest style: TAP 13 on stdout; the python script prints the lines,
# this wrapper finds the daemon and an interpreter, or skips with a reason.
# Env: SC_SRCTREE, SC_OBJTREE (set by scripts/run-scenarios.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SC_SRCTREE:=$(cd "$here/../.." && pwd)}"
: "${SC_OBJTREE:=$SC_SRCTREE/build}"
export SC_SRCTREE SC_OBJTREE
. "$SC_SRCTREE/selftests/slabcached/lib.sh"
sd_require_daemon "slabcached-policy"
exec timeout 300 "$SD_PYTHON" "$SC_SRCTREE/selftests/slabcached/policy.py"
