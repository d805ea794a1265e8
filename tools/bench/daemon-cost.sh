#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What one request costs each daemon, slabcached and Debian's memcached,
# in counts that depend little on how busy the machine is: system calls
# and context switches of the daemon process (perf stat's tracepoint and
# software counters), divided by the requests memaslap sent, the reads
# (read and readv) among those system calls, and with
# --callgrind the user-space instructions (valgrind's callgrind, switched
# on for the counted run only). CPU time per request (user and system,
# from /proc/PID/stat) is shown too; it moves with the neighbours. So is
# the time the daemon's threads waited on a run queue once runnable (the
# second field of /proc/PID/task/TID/schedstat, summed over the threads),
# per request and per time the scheduler ran a thread: what a woken
# worker waits before it can serve, which is where the tail latency of a
# 2-core machine shared with the client comes from; it moves with the
# neighbours even more.
# Kernel instructions are not counted (the small VMs this is developed on
# expose no hardware counters): the system calls stand for the kernel's
# work, which is most of a request's.
#
# The workloads are those of daemon-bench.sh: memaslap's 90 % get / 10 %
# set mix, one driver thread with 16 connections, text and binary
# protocols, 100 B and 10 KB values, both daemons with -m 64 -t 2. Each
# case runs --ops requests once to warm the daemon (keys stored, buffers
# grown), then counts a second run of --ops requests with perf stat
# attached to the daemon. The counts of one case vary by a few per cent
# between runs (how requests batch in a wake-up depends on timing);
# compare the two daemons within one run.
#
# Under callgrind the daemons are about 50 times slower, so more
# requests arrive per wake-up and the system call counts of that mode are
# not those of a real run: it reports instructions only.
#
# With --threads, each counted run is followed by one line per thread of
# the daemon (from /proc/PID/task/TID/status and schedstat): the times it
# slept of its own accord (a worker's wake-ups, about) and was preempted,
# per 1,000 requests, its CPU and its run-queue wait per request, and the
# wait per time it was run. It tells the workers from the daemon's other
# threads (main thread's tick, memcached's LRU maintainer), and one worker
# from the other.
#
# Usage: daemon-cost.sh SLABCACHED [OUT_CSV] [--ops N] [--cases LIST]
#                       [--callgrind] [--threads]
#   LIST: any of text-100,text-10000,binary-100,binary-10000 (default all)
set -eu

slabcached=$1
shift
csv=
case ${1-} in
--* | '') ;;
*)
	csv=$1
	shift
	;;
esac
ops=100000
cases="text-100 text-10000 binary-100 binary-10000"
callgrind=
threads=
while [ $# -gt 0 ]; do
	case $1 in
	--ops)
		ops=$2
		shift
		;;
	--cases)
		cases=$(echo "$2" | tr , ' ')
		shift
		;;
	--callgrind) callgrind=1 ;;
	--threads) threads=1 ;;
	*)
		echo "daemon-cost.sh: unknown option $1" >&2
		exit 2
		;;
	esac
	shift
done

tools="memcached memcaslap memcping perf python3"
[ -n "$callgrind" ] && tools="$tools valgrind callgrind_control"
. "$(dirname "$0")/daemon-lib.sh"
# shellcheck disable=SC2086 # one word per tool
need_tools daemon-cost.sh $tools

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
	fi
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

start() {
	vg=
	if [ -n "$callgrind" ]; then
		vg="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$tmp/cg.%p"
	fi
	rm -f "$tmp/ports"
	case $1 in
	memcached)
		# memcached sets both descriptor limits to -c, and valgrind
		# accepts no hard limit but its own: give it that one
		maxconns=1024
		[ -n "$callgrind" ] && maxconns=$(valgrind -q sh -c 'ulimit -Hn')
		MEMCACHED_PORT_FILENAME="$tmp/ports" \
			$vg memcached -l 127.0.0.1 -p -1 -U 0 -m 64 -t 2 \
			-c "$maxconns" -u "$(id -un)" 2>"$tmp/log" &
		;;
	slabcached)
		MEMCACHED_PORT_FILENAME="$tmp/ports" \
			$vg "$slabcached" -l 127.0.0.1 -p -1 -m 64 -t 2 \
			2>"$tmp/log" &
		;;
	esac
	pid=$!
	wait_daemon daemon-cost.sh "$1" "$pid" "$tmp/ports" "$tmp/log" 300
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

drive() { # PROTO VALUE_BYTES
	pflag=
	[ "$1" = binary ] && pflag=-B
	timeout 1200 memcaslap -s "127.0.0.1:$port" -T 1 -c 16 -x "$ops" \
		-X "$2" $pflag >"$tmp/out" 2>&1 || {
		echo "daemon-cost.sh: memaslap failed:" >&2
		tail -n 20 "$tmp/out" >&2
		exit 1
	}
}

# utime + stime of the daemon in clock ticks, then the run-queue wait in
# ns and the number of times a thread was run, summed over its threads:
# "user sys wait_ns runs"
cpu_ticks() {
	t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12, $13 }')
	w=$(cat /proc/"$pid"/task/*/schedstat 2>/dev/null |
		awk '{ w += $2; n += $3 } END { printf "%.0f %.0f", w, n }')
	echo "$t $w"
}

# One line a thread: "tid name voluntary nonvoluntary run_ns wait_ns runs"
thread_snap() {
	for t in /proc/"$pid"/task/*; do
		{
			s=$(cat "$t/schedstat") &&
				n=$(cat "$t/comm") &&
				c=$(awk '/^voluntary_ctxt/ { v = $2 }
					/^nonvoluntary_ctxt/ { n = $2 }
					END { print v, n }' "$t/status") &&
				echo "${t##*/} $n $c $s"
		} 2>/dev/null || true
	done | sort
}

# The threads' lines for $1 requests, from the snapshots th0 and th1
thread_report() {
	join "$tmp/th0" "$tmp/th1" | awk -v n="$1" '{
		vol = $9 - $3; inv = $10 - $4; run = $11 - $5
		wq = $12 - $6; runs = $13 - $7
		if (runs > 0)
			printf "|   %s | voluntary %.1f, preempted %.1f /1k req | CPU %.2f us/req | wait %.2f us/req (%.0f per run) |\n",
				$2, vol * 1000 / n, inv * 1000 / n, run / 1000 / n,
				wq / 1000 / n, wq / 1000 / runs
	}'
}

hz=$(getconf CLK_TCK)
[ -n "$csv" ] && echo "daemon,protocol,value_bytes,requests,get_misses,syscalls,context_switches,user_ticks,sys_ticks,clk_tck,user_instructions,reads,runq_wait_ns,runs" >"$csv"
if [ -n "$callgrind" ]; then
	printf '| protocol | value B | daemon | user instructions/req | get hit ratio |\n'
	printf '|---|---|---|---|---|\n'
else
	printf '| protocol | value B | daemon | syscalls/req | reads/req | context switches/req | CPU us/req (user + sys) | run-queue wait us/req (per run) | get hit ratio |\n'
	printf '|---|---|---|---|---|---|---|---|---|\n'
fi
for case in $cases; do
	proto=${case%-*}
	vsize=${case#*-}
	for d in memcached slabcached; do
		start $d
		drive "$proto" "$vsize"
		ir=0
		if [ -n "$callgrind" ]; then
			callgrind_control -i on "$pid" >/dev/null 2>&1
			callgrind_control -z "$pid" >/dev/null 2>&1
			drive "$proto" "$vsize"
			callgrind_control -d "$pid" >/dev/null 2>&1
			ir=$(cat "$tmp"/cg.$pid.* 2>/dev/null |
				awk '/^totals:/ { t = $2 } END { print t + 0 }')
			rm -f "$tmp"/cg.*
			echo "0 0 0 0" >"$tmp/t0"
			echo "0 0 0 0" >"$tmp/t1"
			printf '# started\n0,,raw_syscalls:sys_enter\n0,,context-switches\n' >"$tmp/perf"
		else
			perf stat -x, -o "$tmp/perf" -p "$pid" \
				-e raw_syscalls:sys_enter,context-switches \
				-e syscalls:sys_enter_read,syscalls:sys_enter_readv &
			perf=$!
			sleep 0.5 # perf attached to every thread
			cpu_ticks >"$tmp/t0"
			[ -n "$threads" ] && thread_snap >"$tmp/th0"
			drive "$proto" "$vsize"
			cpu_ticks >"$tmp/t1"
			[ -n "$threads" ] && thread_snap >"$tmp/th1"
			kill -INT $perf
			wait $perf || true
		fi
		reqs=$(awk '/^cmd_get:/ { split($0, a, " "); g = a[2] }
			/^cmd_set:/ { split($0, a, " "); s = a[2] }
			END { print g + s }' "$tmp/out")
		stop
		awk -F, -v d=$d -v p="$proto" -v v="$vsize" -v csv="$csv" \
			-v hz="$hz" -v ir="$ir" -v cg="$callgrind" \
			-v t0="$(cat "$tmp/t0")" -v t1="$(cat "$tmp/t1")" '
			FILENAME == ARGV[1] {
				if ($3 ~ /sys_enter_read/) rd += $1
				else if ($3 ~ /sys_enter/) sc = $1
				else if ($3 ~ /context-switches/) cs = $1
				next
			}
			/^cmd_get:/ { split($0, a, " "); g = a[2] }
			/^cmd_set:/ { split($0, a, " "); s = a[2] }
			/^get_misses:/ { split($0, a, " "); m = a[2] }
			END {
				n = g + s
				split(t0, a, " "); split(t1, b, " ")
				ut = b[1] - a[1]; st = b[2] - a[2]
				wq = b[3] - a[3]; runs = b[4] - a[4]
				if (cg)
					printf "| %s | %d | %s | %.0f | %.3f |\n",
						p, v, d, ir / n, g ? (g - m) / g : 0
				else
					printf "| %s | %d | %s | %.2f | %.3f | %.3f | %.1f (%.1f + %.1f) | %.1f (%.0f) | %.3f |\n",
						p, v, d, sc / n, rd / n, cs / n,
						(ut + st) * 1e6 / hz / n, ut * 1e6 / hz / n,
						st * 1e6 / hz / n, wq / 1000 / n,
						runs ? wq / 1000 / runs : 0,
						g ? (g - m) / g : 0
				if (csv != "")
					printf "%s,%s,%d,%d,%d,%s,%s,%d,%d,%d,%s,%d,%.0f,%.0f\n", d, p, v,
						n, m, sc, cs, ut, st, hz, ir, rd, wq, runs >>csv
			}' "$tmp/perf" "$tmp/out"
		if [ -n "$threads" ] && [ -z "$callgrind" ] && [ "$reqs" -gt 0 ]; then
			thread_report "$reqs"
		fi
	done
done
echo
echo "memaslap 90 % get / 10 % set, 1 thread x 16 connections, $ops requests counted after $ops to warm up."
