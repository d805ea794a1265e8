# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by selftests/scenarios/slabcached-*.sh: find the daemon and a
# python3 (one with pymemcache if there is one), or print a TAP skip and
# exit 0.

# sd_skip NAME REASON: the whole scenario is skipped.
sd_skip()
{
	echo "TAP version 13"
	echo "ok 1 - $1 # SKIP $2"
	echo "1..1"
	exit 0
}

# sd_require_daemon NAME: sets SD_DAEMON and SD_PYTHON.
sd_require_daemon()
{
	SD_DAEMON=$SC_OBJTREE/tools/slabcached/slabcached
	[ -x "$SD_DAEMON" ] || sd_skip "$1" "no daemon at $SD_DAEMON"
	SD_PYTHON=
	# Debian's python3-pymemcache is for /usr/bin/python3, which another
	# python3 first in PATH (pyenv) does not see.
	for p in python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null 2>&1 &&
			"$p" -c 'import pymemcache' 2>/dev/null; then
			SD_PYTHON=$p
			break
		fi
	done
	if [ -z "$SD_PYTHON" ]; then
		command -v python3 >/dev/null 2>&1 ||
			sd_skip "$1" "python3 not installed"
		SD_PYTHON=python3
	fi
	command -v timeout >/dev/null 2>&1 || sd_skip "$1" "no timeout(1)"
	# no __pycache__ in the source tree
	PYTHONDONTWRITEBYTECODE=1
	export SD_DAEMON SD_PYTHON PYTHONDONTWRITEBYTECODE
}
