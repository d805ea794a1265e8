#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# slabcached against Debian's memcached, both on loopback, driven by
# memaslap (libmemcached-tools' memcaslap).
#
# 1. Throughput and latency: memaslap's default mix (90 % get, 10 % set),
#    in the text protocol and then the binary one (memaslap -B),
#    100 B and then 10 KB values, one driver thread with 16 concurrent
#    connections, for --time seconds; rounds interleave the two daemons
#    (round 0 is a warm-up); ops/s min, median, max, and the medians over
#    the rounds of p50 and p99 latency. The percentiles come from
#    memaslap's own histogram of all operations (log2 buckets of
#    microseconds, bucket k holding [2^(k-1), 2^k)), interpolated
#    geometrically inside the bucket that holds them: estimates within a
#    bucket, not exact figures. The hit ratio is memaslap's gets less its
#    misses, over its gets, summed over the rounds.
# 2. Memory: both started with -m 64, then 96 MiB of 10 KB values set
#    through one connection (a python3 client, so eviction is exercised);
#    VmRSS of each daemon when full, then slabcached is sent SIGUSR2
#    (shed as under CRITICAL pressure) and its VmRSS read again 1 s later.
#    memcached has no such signal: its RSS is read again for comparison.
#
# Everything binds 127.0.0.1 only; request loops are bounded in count and
# time; both daemons are stopped on exit.
#
# Usage: daemon-bench.sh SLABCACHED OUT_CSV [--rounds R] [--time S]
#                        [--fill-mib M] [--protocols "text binary"]
#                        [--sizes "100 10000"]
#   OUT_CSV gets the throughput rounds; daemon-memory.csv beside it the
#   memory figures. --protocols and --sizes pick a subset of the cases
#   (for a shorter run while developing); --fill-mib 0 skips the memory
#   part.
set -eu

slabcached=$1
csv=$2
shift 2
rounds=5
secs=5
fill_mib=96
protocols="text binary"
sizes="100 10000"
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2 ;;
	--time) secs=$2 ;;
	--fill-mib) fill_mib=$2 ;;
	--protocols) protocols=$2 ;;
	--sizes) sizes=$2 ;;
	*)
		echo "daemon-bench.sh: unknown option $1" >&2
		exit 2
		;;
	esac
	shift 2
done

. "$(dirname "$0")/daemon-lib.sh"
need_tools daemon-bench.sh memcached memcaslap memcping python3

bench_scratch

# start NAME: start one daemon with -m 64 on a port of its own; sets
# mc_pid and mc_port, or sc_pid and sc_port
start() {
	case $1 in
	memcached)
		MEMCACHED_PORT_FILENAME="$tmp/$1.ports" \
			memcached -l 127.0.0.1 -p -1 -U 0 -m 64 -t 2 \
			-u "$(id -un)" 2>"$tmp/memcached.log" &
		mc_pid=$!
		pid=$mc_pid
		pids="$pids $mc_pid"
		;;
	slabcached)
		MEMCACHED_PORT_FILENAME="$tmp/$1.ports" \
			"$slabcached" -l 127.0.0.1 -p -1 -m 64 -t 2 \
			2>"$tmp/slabcached.log" &
		sc_pid=$!
		pid=$sc_pid
		pids="$pids $sc_pid"
		;;
	esac
	wait_daemon daemon-bench.sh "$1" "$pid" "$tmp/$1.ports" \
		"$tmp/$1.log" 50
	case $1 in
	memcached) mc_port=$port ;;
	slabcached) sc_port=$port ;;
	esac
}

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

start memcached
start slabcached

# p50 and p99 in us from the "Total Statistics" log2 histogram of one run
percentiles() {
	awk '
		/^Total Statistics \(/ { tot = 1; next }
		tot && /Log2 Dist:/ { dist = 1; next }
		dist && /^ *[0-9]+:/ {
			k = $1; sub(":", "", k)
			for (i = 2; i <= NF; i++) { c[k + i - 2] = $i; n += $i }
			next
		}
		dist { dist = 0; tot = 0 }
		function pct(p,   k, cum, want, f) {
			want = p * n; cum = 0
			for (k = 0; k < 64; k++) {
				if (!(k in c) || !c[k]) continue
				if (cum + c[k] >= want) {
					f = (want - cum) / c[k]
					return 2 ^ (k - 1) * 2 ^ f
				}
				cum += c[k]
			}
			return 0
		}
		END { if (n) printf "%.0f,%.0f\n", pct(0.5), pct(0.99); else print "nan,nan" }' "$1"
}

echo "daemon,value_bytes,round,ops_per_s,gets,sets,get_misses,p50_us,p99_us,protocol" >"$csv"
for proto in $protocols; do
	case $proto in
	text | binary) ;;
	*)
		echo "daemon-bench.sh: unknown protocol $proto" >&2
		exit 2
		;;
	esac
done
for vsize in $sizes; do
	case $vsize in
	100 | 10000) ;;
	*)
		echo "daemon-bench.sh: --sizes takes 100 and 10000" >&2
		exit 2
		;;
	esac
done
for proto in $protocols; do
	if [ $proto = binary ]; then pflag=-B; else pflag=; fi
	for vsize in $sizes; do
		r=0
		while [ $r -le "$rounds" ]; do
			for d in memcached slabcached; do
				if [ $d = memcached ]; then port=$mc_port; else port=$sc_port; fi
				timeout $((secs + 30)) memcaslap -s "127.0.0.1:$port" \
					-T 1 -c 16 -t "${secs}s" -X $vsize -S "${secs}s" \
					$pflag >"$tmp/out" 2>&1 || {
					echo "daemon-bench.sh: memaslap against $d failed:" >&2
					tail -n 20 "$tmp/out" >&2
					exit 1
				}
				[ $r -eq 0 ] && continue
				lat=$(percentiles "$tmp/out")
				awk -v d=$d -v r=$r -v v=$vsize -v lat="$lat" -v p=$proto '
					/^cmd_get:/ { g = $2 } /^cmd_set:/ { s = $2 }
					/^get_misses:/ { m = $2 }
					/TPS:/ { for (i = 1; i < NF; i++) if ($i == "TPS:") t = $(i + 1) }
					END { print d "," v "," r "," t "," g "," s "," m "," lat "," p }' \
					"$tmp/out" >>"$csv"
			done
			r=$((r + 1))
		done
	done
done

echo "## Daemon bench: slabcached vs memcached $(memcached -V | awk '{ print $2 }')"
echo
echo "| protocol | daemon | value B | ops/s min | median | max | p50 us | p99 us | gets | get misses | hit ratio | slabcached faster by |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F, 'NR > 1 { k = $10 SUBSEP $1 SUBSEP $2; n[k]++; v[k, n[k]] = $4; p5[k, n[k]] = $8
		p9[k, n[k]] = $9; g[k] += $5; m[k] += $7 }
	function med(x, k,   i, j, t, a, c) {
		c = n[k]
		for (i = 1; i <= c; i++) a[i] = x[k, i] + 0
		for (i = 1; i <= c; i++)
			for (j = i + 1; j <= c; j++)
				if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		lo = a[1]; hi = a[c]
		return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	function row(p, d, vs, ratio,   k, mm, l, h) {
		k = p SUBSEP d SUBSEP vs
		mm = med(v, k); l = lo; h = hi
		printf "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %.3f | %s |\n", p, d, vs, l, mm, h, med(p5, k), med(p9, k), g[k], m[k], g[k] ? (g[k] - m[k]) / g[k] : 0, ratio
	}
	END {
		split("text binary", ps, " ")
		for (pi = 1; pi <= 2; pi++) {
			p = ps[pi]
			for (vs = 100; vs <= 10000; vs *= 100) {
				ks = p SUBSEP "slabcached" SUBSEP vs; km = p SUBSEP "memcached" SUBSEP vs
				if (!(ks in n) || !(km in n)) continue
				r = sprintf("%.2fx", med(v, ks) / med(v, km))
				row(p, "memcached", vs, r)
				row(p, "slabcached", vs, "")
			}
		}
	}' "$csv"
echo
echo "memaslap 90 % get / 10 % set, 1 thread x 16 connections, ${secs} s per round, $rounds rounds after a warm-up, interleaved; p50/p99: medians over the rounds of estimates from memaslap's log2 latency histogram (see the script)."

[ "$fill_mib" -gt 0 ] || exit 0

# Memory: fill both past -m 64 with 10 KB values, then shed slabcached.
cat >"$tmp/fill.py" <<'EOF'
import socket, sys
port, mib = int(sys.argv[1]), int(sys.argv[2])
value = b"v" * 10000
n = mib * 1024 * 1024 // len(value)
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
for i in range(n):
    s.sendall(b"set fill:%08d 0 0 %d\r\n" % (i, len(value)) + value + b"\r\n")
    line = f.readline()
    if line not in (b"STORED\r\n", b"SERVER_ERROR out of memory storing object\r\n"):
        sys.exit("unexpected reply %r" % line)
s.close()
EOF
for d in memcached slabcached; do
	if [ $d = memcached ]; then port=$mc_port; else port=$sc_port; fi
	timeout 120 python3 "$tmp/fill.py" "$port" "$fill_mib"
done
mc_full=$(rss_kib "$mc_pid")
sc_full=$(rss_kib "$sc_pid")
kill -USR2 "$sc_pid"
sleep 1
mc_after=$(rss_kib "$mc_pid")
sc_after=$(rss_kib "$sc_pid")
echo
echo "| daemon | VmRSS full (-m 64, $fill_mib MiB set) MiB | after SIGUSR2 / 1 s later MiB |"
echo "|---|---|---|"
awk -v a="$mc_full" -v b="$mc_after" 'BEGIN { printf "| memcached | %.1f | %.1f (no shedding signal) |\n", a / 1024, b / 1024 }'
awk -v a="$sc_full" -v b="$sc_after" 'BEGIN { printf "| slabcached | %.1f | %.1f (SIGUSR2: CRITICAL) |\n", a / 1024, b / 1024 }'
mem_csv=$(dirname "$csv")/daemon-memory.csv
{
	echo "daemon,rss_full_kib,rss_after_kib,fill_mib,limit_mib"
	echo "memcached,$mc_full,$mc_after,$fill_mib,64"
	echo "slabcached,$sc_full,$sc_after,$fill_mib,64"
} >"$mem_csv"
