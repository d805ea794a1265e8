#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Exact request latencies: slabcached against Debian's memcached (and
# optionally against another slabcached build, --ref), all on loopback,
# driven by sc-daemon-latency (tools/bench/daemon_latency.c) in one
# process, rounds interleaved.
#
# The load is daemon-bench.sh's: 90 % get / 10 % set, one driver thread
# with 16 connections and one request in flight on each, text and binary
# protocols, 100 B and 10 KB values, the daemons with -m 64 -t 2. Where
# memaslap reports a log2 histogram, this reports exact percentiles of
# every request's time from its first byte sent to its reply's last byte
# read, and how often a gap of more than 1 ms passed without a reply: on
# all connections (the daemon, or the driver, stood still) and on the
# connections of one worker (both daemons deal connections out round
# robin: even ones to one worker, odd ones to the other), averaged over
# the two workers. Round 0 is a warm-up. The table shows medians over the
# rounds; OUT_CSV gets every round.
#
# Usage: daemon-latency.sh SLABCACHED OUT_CSV [--ref SLABCACHED2]
#                          [--rounds R] [--time S]
#                          [--protocols "text binary"] [--sizes "100 10000"]
#                          [--raw-dir DIR]
#   --ref      a second slabcached build, as the peer "ref" (before/after)
#   --raw-dir  one CSV a case there with every request (see
#              sc-daemon-latency --help)
set -eu

slabcached=$1
csv=$2
shift 2
ref=
rounds=5
secs=3
protocols="text binary"
sizes="100 10000"
raw_dir=
while [ $# -gt 0 ]; do
	case $1 in
	--ref) ref=$2 ;;
	--rounds) rounds=$2 ;;
	--time) secs=$2 ;;
	--protocols) protocols=$2 ;;
	--sizes) sizes=$2 ;;
	--raw-dir) raw_dir=$2 ;;
	*)
		echo "daemon-latency.sh: unknown option $1" >&2
		exit 2
		;;
	esac
	shift 2
done

. "$(dirname "$0")/daemon-lib.sh"
need_tools daemon-latency.sh memcached memcping python3

driver=$(dirname "$slabcached")/../bench/sc-daemon-latency
[ -x "$driver" ] || {
	echo "daemon-latency.sh: $driver not built (make bench-progs)" >&2
	exit 2
}

bench_scratch

MEMCACHED_PORT_FILENAME="$tmp/memcached.ports" \
	memcached -l 127.0.0.1 -p -1 -U 0 -m 64 -t 2 -u "$(id -un)" \
	2>"$tmp/memcached.log" &
pids="$pids $!"
wait_daemon daemon-latency.sh memcached $! "$tmp/memcached.ports" \
	"$tmp/memcached.log" 50
mc_port=$port
MEMCACHED_PORT_FILENAME="$tmp/slabcached.ports" \
	"$slabcached" -l 127.0.0.1 -p -1 -m 64 -t 2 2>"$tmp/slabcached.log" &
pids="$pids $!"
wait_daemon daemon-latency.sh slabcached $! "$tmp/slabcached.ports" \
	"$tmp/slabcached.log" 50
peers="memcached:$mc_port slabcached:$port"
if [ -n "$ref" ]; then
	MEMCACHED_PORT_FILENAME="$tmp/ref.ports" \
		"$ref" -l 127.0.0.1 -p -1 -m 64 -t 2 2>"$tmp/ref.log" &
	pids="$pids $!"
	wait_daemon daemon-latency.sh ref $! "$tmp/ref.ports" "$tmp/ref.log" 50
	peers="$peers ref:$port"
fi

: >"$csv"
for proto in $protocols; do
	case $proto in
	text) pflag= ;;
	binary) pflag=--binary ;;
	*)
		echo "daemon-latency.sh: unknown protocol $proto" >&2
		exit 2
		;;
	esac
	for vsize in $sizes; do
		raw=
		[ -n "$raw_dir" ] && raw="--raw $raw_dir/$proto-$vsize.csv"
		# shellcheck disable=SC2086 # empty or one flag; peers are words
		"$driver" $pflag --value "$vsize" --rounds "$rounds" \
			--time "$secs" $raw $peers >"$tmp/out"
		if [ -s "$csv" ]; then
			tail -n +2 "$tmp/out" >>"$csv"
		else
			cat "$tmp/out" >"$csv"
		fi
	done
done

echo "## Exact latencies: slabcached vs memcached $(memcached -V | awk '{ print $2 }')"
echo
echo "| protocol | value B | daemon | ops/s | p50 us | p90 us | p99 us | p99.9 us | gaps > 1 ms /s (all, one worker) | hit ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
awk -F, 'NR > 1 {
		k = $2 SUBSEP $3 SUBSEP $1; i = ++n[k]
		for (f = 5; f <= 13; f++) v[k, f, i] = $f
		h[k] += $18; if (!(k in seen)) { seen[k] = 1; order[++no] = k }
	}
	function med(k, f,   i, j, t, a, c) {
		c = n[k]
		for (i = 1; i <= c; i++) a[i] = v[k, f, i] + 0
		for (i = 1; i <= c; i++)
			for (j = i + 1; j <= c; j++)
				if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	END {
		for (o = 1; o <= no; o++) {
			k = order[o]; split(k, p, SUBSEP)
			printf "| %s | %s | %s | %d | %.0f | %.0f | %.0f | %.0f | %.1f, %.1f | %.4f |\n",
				p[1], p[2], p[3], med(k, 5), med(k, 6), med(k, 7),
				med(k, 8), med(k, 9), med(k, 12), med(k, 13), h[k] / n[k]
		}
	}' "$csv"
echo
echo "sc-daemon-latency: 90 % get / 10 % set, 1 thread x 16 connections, one request in flight each, ${secs} s per round, $rounds rounds after a warm-up, peers interleaved; medians over the rounds of exact percentiles."
