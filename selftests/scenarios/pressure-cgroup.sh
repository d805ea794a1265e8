#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Memory pressure for real: a child cgroup v1 memory cgroup under this
# process's own, with a limit; inside it the helper pressure-fill fills an
# sc_cache, watches pressure with sc_pressure_open(AUTO) and its own
# thread, and starts a hog in the same cgroup.
#
#   1. anonymous growth (no swap, so no PSI or pressure_level warning
#      before an OOM kill): the usage-threshold source must fire first,
#      the shrinkers run, the cache and the helper's RSS shrink, and
#      nothing is OOM-killed;
#   2. page-cache thrash: v1 "low" and a PSI trigger (2 s window, on a
#      cgroup2 child made here) fire, and the debounce keeps shrinker
#      passes to one per level per window.
#
# Needs root and the cgroup v1 memory controller; skips (with the reason)
# otherwise. Every cgroup made here is removed at exit, even on failure.
# TAP 13.
set -u

srctree=${SC_SRCTREE:-$(cd "$(dirname "$0")/../.." && pwd)}
objtree=${SC_OBJTREE:-$srctree/build}
helper=$objtree/selftests/scenarios/pressure-fill
V1=/sys/fs/cgroup/memory
NTESTS=10

echo "TAP version 13"
echo "1..$NTESTS"

skip_all() {
	i=1
	while [ $i -le $NTESTS ]; do
		echo "ok $i - pressure-cgroup # SKIP $1"
		i=$((i + 1))
	done
	exit 0
}

[ "$(id -u)" -eq 0 ] || skip_all "not root"
[ -e $V1/cgroup.event_control ] || skip_all "no $V1/cgroup.event_control (no cgroup v1 memory controller)"
if [ ! -x "$helper" ]; then
	i=1
	while [ $i -le $NTESTS ]; do
		echo "not ok $i - pressure-cgroup: helper $helper not built"
		i=$((i + 1))
	done
	exit 1
fi

own=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p' /proc/self/cgroup)
[ "$own" = "/" ] && own=
cg1=$V1$own/sc_pressure_$$
# cgroup2 tree (PSI only here), found from mountinfo, not hard-coded.
v2mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
own2=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup)
[ "$own2" = "/" ] && own2=
cg2=
work=$(mktemp -d /tmp/sc-pressure-scen.XXXXXX)
helper_pid=

cleanup() {
	if [ -n "$helper_pid" ] && kill -0 "$helper_pid" 2>/dev/null; then
		kill -KILL "$helper_pid" 2>/dev/null
		wait "$helper_pid" 2>/dev/null
	fi
	for d in "$cg1" "$cg2"; do
		[ -n "$d" ] && [ -d "$d" ] || continue
		# The helper kills its own child; wait for the cgroup to empty.
		n=0
		while [ -s "$d/cgroup.procs" ] && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		rmdir "$d" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

mkdir "$cg1" 2>/dev/null || skip_all "mkdir $cg1 failed"
if [ -n "$v2mnt" ] && mkdir "$v2mnt$own2/sc_pressure_$$" 2>/dev/null; then
	cg2=$v2mnt$own2/sc_pressure_$$
fi

val() { sed -n "s/^$1=//p" "$2" | tail -n 1; }
oom_kills() { sed -n 's/^oom_kill //p' "$cg1/memory.oom_control"; }

# Run the helper inside the cgroup(s): the shell moves itself, then execs.
run_helper() {
	out=$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" || exit 90
	       if [ -n "$1" ]; then echo $$ > "$1/cgroup.procs" || exit 91; fi
	       shift 2; exec "$@"' "$cg1" "${cg2:-}" x "$helper" "$@" >"$out" 2>&1 &
	helper_pid=$!
	wait $helper_pid
	rc=$?
	helper_pid=
	return $rc
}

# ------------------------------------------------ 1: anonymous growth
limit_mib=128
echo $((limit_mib << 20)) > "$cg1/memory.limit_in_bytes"
# 80 MiB of cache, then 64 MiB of anon growing 1 MiB / 20 ms: 144 MiB
# would not fit under 128 MiB unless the cache gives memory back.
run_helper "$work/anon.out" 80 200000 4000 hog 64 20
rc=$?
out=$work/anon.out
sed 's/^/# anon: /' "$out"
usage_events=$(val events_usage "$out")
first=$(val first_shrink_ms "$out")
rss0=$(val rss_before_kb "$out")
rss1=$(val rss_after_kb "$out")
cost0=$(val cost_before "$out")
cost1=$(val cost_after "$out")
kills=$(oom_kills)
echo "# anon: oom_kill=${kills:-?} failcnt=$(cat "$cg1/memory.failcnt") max_usage=$(cat "$cg1/memory.max_usage_in_bytes")"

if [ $rc -eq 0 ] && [ "${usage_events:-0}" -gt 0 ] && [ -n "$first" ] && [ "${kills:-1}" -eq 0 ]; then
	echo "ok 1 - anon: usage threshold fired before any OOM (${usage_events} events)"
else
	echo "not ok 1 - anon: usage threshold fired before any OOM (rc=$rc events=${usage_events:-none} oom_kill=${kills:-?})"
fi
if [ -n "$first" ] && [ $(($(val passes_low "$out") + $(val passes_medium "$out") + $(val passes_critical "$out"))) -gt 0 ]; then
	echo "ok 2 - anon: shrinkers ran, first pass ${first} ms after the hog started (level $(val first_shrink_level "$out"))"
	echo "# latency hog start -> first shrink: ${first} ms"
else
	echo "not ok 2 - anon: shrinkers ran"
fi
if [ -n "$cost0" ] && [ -n "$cost1" ] && [ "$cost1" -lt $((cost0 / 5)) ]; then
	echo "ok 3 - anon: cache gave back most of its memory (cost $cost0 -> $cost1)"
else
	echo "not ok 3 - anon: cache gave back most of its memory (cost ${cost0:-?} -> ${cost1:-?})"
fi
echo "# RSS before ${rss0:-?} kB, after ${rss1:-?} kB"
if [ -n "$rss0" ] && [ -n "$rss1" ] && [ -n "$cost0" ] &&
	[ "$rss1" -lt $((rss0 - cost0 / 1024 / 2)) ]; then
	echo "ok 4 - anon: helper RSS fell accordingly (${rss0} -> ${rss1} kB)"
else
	echo "not ok 4 - anon: helper RSS fell accordingly (${rss0:-?} -> ${rss1:-?} kB)"
fi
if [ $rc -eq 0 ] && [ "$(val child_exit "$out")" = 0 ] && [ "${kills:-1}" -eq 0 ]; then
	echo "ok 5 - anon: neither the helper nor the hog was OOM-killed"
else
	echo "not ok 5 - anon: neither the helper nor the hog was OOM-killed (rc=$rc hog=$(val child_exit "$out")$(val child_signal "$out") oom_kill=${kills:-?})"
fi

# --------------------------------------------- 2: page-cache thrash
echo $((64 << 20)) > "$cg1/memory.limit_in_bytes"
dd if=/dev/zero of="$work/thrash.dat" bs=1M count=128 conv=fsync status=none
# 16 MiB of cache; a PSI stall threshold of 20 ms per 2 s window, which a
# thrash in a 64 MiB cgroup reaches; 5 s of thrash.
dur_ms=5000
# The program's own poll() loop this time, not the library thread: PSI
# events must survive an outer poll of the fd (see core/pressure.c).
SC_FILL_LOOP=poll run_helper "$work/file.out" 16 20000 $dur_ms thrash "$work/thrash.dat"
rc=$?
out=$work/file.out
sed 's/^/# file: /' "$out"
v1=$(val events_cgroup_v1 "$out")
psi=$(($(val events_psi_cgroup "$out") + $(val events_psi "$out")))
kills=$(oom_kills)
if [ "${v1:-0}" -gt 0 ]; then
	echo "ok 6 - file: v1 pressure_level fired ($v1 events)"
else
	echo "not ok 6 - file: v1 pressure_level fired (${v1:-none})"
fi
if [ -z "$cg2" ]; then
	echo "ok 7 - file: PSI trigger fired # SKIP no cgroup2 hierarchy to make a child in"
elif [ "$psi" -gt 0 ]; then
	echo "ok 7 - file: PSI trigger (2 s window) fired ($psi events)"
else
	echo "not ok 7 - file: PSI trigger (2 s window) fired (sources=$(val sources "$out") psi_cgroup errno=$(val source_errno_psi_cgroup "$out"))"
fi
# One pass per level per window: at most elapsed/window + 1 each.
elapsed=$(val elapsed_ms "$out")
maxp=$((${elapsed:-$dur_ms} / 2000 + 1))
ok=1
for l in low medium critical; do
	n=$(val passes_$l "$out")
	[ "${n:-0}" -le $maxp ] || ok=0
done
deb=$(val debounced "$out")
if [ $ok -eq 1 ] && [ "${deb:-0}" -gt 0 ]; then
	echo "ok 8 - file: debounce: passes low/medium/critical $(val passes_low "$out")/$(val passes_medium "$out")/$(val passes_critical "$out") <= $maxp each, $deb events debounced"
else
	echo "not ok 8 - file: debounce: passes low/medium/critical $(val passes_low "$out")/$(val passes_medium "$out")/$(val passes_critical "$out") (max $maxp), debounced ${deb:-?}"
fi
if [ $rc -eq 0 ] && [ "${kills:-1}" -eq 0 ] && [ "$(val child_killed_by_helper "$out")" = 1 ]; then
	echo "ok 9 - file: no OOM kill"
else
	echo "not ok 9 - file: no OOM kill (rc=$rc oom_kill=${kills:-?})"
fi

# --------------------------------------------------------- cleanup
cleanup
trap - EXIT
left=
for d in "$cg1" "$cg2"; do
	[ -n "$d" ] && [ -d "$d" ] && left="$left $d"
done
if [ -z "$left" ]; then
	echo "ok 10 - cgroups removed"
else
	echo "not ok 10 - cgroups removed (left:$left)"
fi
