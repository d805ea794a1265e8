# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What the daemon benches (daemon-bench.sh, daemon-latency.sh,
# daemon-cost.sh, daemon-rss.sh) share: sourced by them, not run. POSIX sh.

# need_tools SCRIPT TOOL...: exit 2 naming the first TOOL not installed.
need_tools() {
	_need_script=$1
	shift
	for _need_tool in "$@"; do
		command -v "$_need_tool" >/dev/null || {
			echo "$_need_script: $_need_tool not installed" >&2
			exit 2
		}
	done
}

# wait_daemon SCRIPT NAME PID PORTFILE LOG TRIES
# Wait until the daemon PID, started with "-p -1" and
# MEMCACHED_PORT_FILENAME=PORTFILE, has written the port the kernel gave
# it, answers there and still runs; that port in $port. (A port picked
# before the start can be bound meanwhile by another daemon, such as a
# test's running beside the bench: its answers would be taken for this
# one's.) If that does not happen within TRIES tenths of a second, or PID
# exits, show LOG and exit 1.
wait_daemon() {
	_wait_tries=0
	port=
	until [ -n "$port" ] &&
		memcping --servers="127.0.0.1:$port" 2>/dev/null &&
		kill -0 "$3" 2>/dev/null; do
		_wait_tries=$((_wait_tries + 1))
		if [ "$_wait_tries" -gt "$6" ] || ! kill -0 "$3" 2>/dev/null; then
			echo "$1: $2 did not start:" >&2
			cat "$5" >&2
			exit 1
		fi
		sleep 0.1
		[ -n "$port" ] ||
			port=$(sed -n 's/^TCP INET: \([0-9]*\)$/\1/p' "$4" \
				2>/dev/null | head -n 1)
	done
}

# bench_scratch: a scratch directory in $tmp and an empty list of daemon
# pids in $pids; on exit (or INT, TERM) those daemons are killed and
# waited for, and the directory removed.
bench_scratch() {
	tmp=$(mktemp -d)
	pids=
	trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
	for _clean_pid in $pids; do
		kill "$_clean_pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
