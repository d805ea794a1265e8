#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Where a daemon's resident memory goes in the daemon bench's sequence.
#
# One daemon (slabcached, or Debian's memcached) at -m 64 -t 2 on
# loopback takes the phases of tools/bench/daemon-bench.sh in its order:
# memaslap (90 % get, 10 % set, 1 thread x 16 connections) in text with
# 100 B values, text 10 KB, binary 100 B, binary 10 KB, each ROUNDS runs
# of SECS seconds, then 96 MiB of 10 KB values set through one connection,
# then 2 s idle. After each phase: VmRSS, and for slabcached the items'
# charge ("bytes"), the slabs held ("total_malloced"), the cache's limit
# now and the slots stranded in other sizes' slabs ("stats slabcached"),
# and each size class in use (pages, used and total slots); for both, the
# hit ratio of each memaslap phase. Memory figures, not timings: the load
# moves the number of requests a phase makes, not where the bytes go.
#
# Usage: daemon-rss.sh slabcached|memcached [DAEMON_BINARY]
#        [--rounds R] [--time S]
#   (default: build/tools/slabcached/slabcached, 6 rounds of 5 s, as the
#   daemon bench's 5 measured rounds and its warm-up)

set -eu

kind=$1
shift
bin=build/tools/slabcached/slabcached
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
	bin=$1
	shift
fi
rounds=6
secs=5
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2 ;;
	--time) secs=$2 ;;
	*)
		echo "daemon-rss.sh: unknown option $1" >&2
		exit 2
		;;
	esac
	shift 2
done
case $kind in
slabcached | memcached) ;;
*)
	echo "daemon-rss.sh: slabcached or memcached, not $kind" >&2
	exit 2
	;;
esac
. "$(dirname "$0")/daemon-lib.sh"
# shellcheck disable=SC2046 # memcached or nothing
need_tools daemon-rss.sh memcaslap memcping python3 \
	$([ "$kind" = memcached ] && echo memcached)

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

export MEMCACHED_PORT_FILENAME="$tmp/ports"
if [ "$kind" = memcached ]; then
	memcached -l 127.0.0.1 -p -1 -U 0 -m 64 -t 2 -u "$(id -un)" \
		2>"$tmp/daemon.log" &
else
	"$bin" -l 127.0.0.1 -p -1 -m 64 -t 2 2>"$tmp/daemon.log" &
fi
unset MEMCACHED_PORT_FILENAME
pid=$!
wait_daemon daemon-rss.sh "$kind" "$pid" "$tmp/ports" "$tmp/daemon.log" 50

cat >"$tmp/report.py" <<'EOF'
import socket, sys
port, kind, pid, phase = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port))
def stats(cmd):
    s.sendall(cmd + b"\r\n")
    b = b""
    while not b.endswith(b"END\r\n"):
        b += s.recv(65536)
    return dict(l.split()[1:3] for l in b.decode().splitlines()
                if l.startswith("STAT"))
with open(f"/proc/{pid}/status") as f:
    rss = [l.split()[1] for l in f if l.startswith("VmRSS:")][0]
st, sl = stats(b"stats"), stats(b"stats slabs")
line = (f"{phase:10s} VmRSS {int(rss) / 1024:6.1f} MiB  items "
        f"{st['curr_items']:>7}  bytes {int(st['bytes']) / 2**20:5.1f} MiB  "
        f"slabs {int(sl['total_malloced']) / 2**20:5.1f} MiB")
if kind == "slabcached":
    own = stats(b"stats slabcached")
    line += (f"  limit {int(own['limit_effective']) / 2**20:5.1f} MiB  "
             f"stranded {int(own['slab_stranded_bytes']) / 2**20:5.1f} MiB")
print(line)
if kind == "slabcached":
    cls = {}
    for k, v in sl.items():
        if ":" in k:
            c, f = k.split(":")
            cls.setdefault(int(c), {})[f] = int(v)
    for c in sorted(cls):
        x = cls[c]
        print(f"{'':10s}   class {c} ({x['chunk_size']} B): "
              f"{x['total_pages']} pages, {x['used_chunks']} of "
              f"{x['total_chunks']} slots used")
EOF
cat >"$tmp/fill.py" <<'EOF'
import socket, sys
port, mib = int(sys.argv[1]), int(sys.argv[2])
value = b"v" * 10000
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
for i in range(mib * 1024 * 1024 // len(value)):
    s.sendall(b"set fill:%08d 0 0 %d\r\n" % (i, len(value)) + value + b"\r\n")
    f.readline()
EOF
report() {
	python3 "$tmp/report.py" "$port" "$kind" "$pid" "$1"
}

report start
for proto in text binary; do
	pflag=
	[ $proto = binary ] && pflag=-B
	for vsize in 100 10000; do
		: >"$tmp/out"
		for _ in $(seq "$rounds"); do
			timeout $((secs + 30)) memcaslap -s "127.0.0.1:$port" \
				-T 1 -c 16 -t "${secs}s" -X $vsize -S "${secs}s" \
				$pflag >>"$tmp/out" 2>&1
		done
		report "$proto-$vsize"
		awk '/^cmd_get:/ { g += $2 } /^get_misses:/ { m += $2 }
			END { if (g) printf "%10s   hit ratio %.3f (%d gets)\n", "", 1 - m / g, g }' \
			"$tmp/out"
	done
done
python3 "$tmp/fill.py" "$port" 96
report fill
sleep 2
report fill+2s
