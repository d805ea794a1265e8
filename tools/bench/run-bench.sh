#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run the bench programs of tools/bench and collect their output
# (`make bench`, `make bench-smoke`; see Documentation/performance.rst).
#
# Usage: run-bench.sh SRCTREE OBJTREE [--smoke | --tiny | --quick]
#                     [--large] [--no-valgrind] [--no-plots]
#
#   (default)  full sizes: caches of 1k, 100k and 1M entries (the cache
#              bench runs twice: in this build, and in the CONFIG_JEMALLOC=n
#              build where malloc is glibc's), allocations of 1M objects of
#              16..1024 B, shrink of 1 GiB on both backends, the three
#              traces (and OLTP at the ARC paper's sizes), valgrind
#              companions at N = 100k, the daemon bench, the daemon's
#              policies (tools/bench/policy-bench.py).
#              The markdown tables go to stdout and, with the CSVs and
#              PNGs, to bench/results/<UTC stamp>/ (bench/results/latest
#              points there)
#   --quick    reduced sizes, the cache bench in this build only
#   --large    add caches of 10M entries
#   --smoke    every program once at a tiny size, output into
#              OBJTREE/bench-smoke/; prints one line per program. It checks
#              that the programs build and run, not how fast they are.
#   --tiny     the smoke sizes with the full run's output (tables on
#              stdout, bench/results/): to check this script
#
# The daemon bench (daemon-bench.sh) runs when slabcached is built and
# memcached and memaslap are installed; valgrind is skipped for sanitizer
# builds. The trace files come from $SC_TRACES, else SRCTREE/selftests/traces
# (in the tree); a missing one is an error, not a silent skip.
set -eu

srctree=$1
objtree=$2
shift 2
mode=full
large=
valgrind=yes
plots=yes
for a in "$@"; do
	case $a in
	--smoke) mode=smoke ;;
	--tiny) mode=tiny ;;
	--quick) mode=quick ;;
	--large) large=--large ;;
	--no-valgrind) valgrind=no ;;
	--no-plots) plots=no ;;
	*)
		echo "run-bench.sh: unknown option $a" >&2
		exit 2
		;;
	esac
done

bin=$objtree/tools/bench
# valgrind cannot run sanitizer builds
if grep -q 'CONFIG_SC_[AT]SAN' "$objtree/config.h" 2>/dev/null; then
	valgrind=no
fi
traces=${SC_TRACES:-$srctree/selftests/traces}
trace_files=
for t in OLTP.lis.zst P3.lis.zst cloudPhysicsIO.txt; do
	if [ ! -r "$traces/$t" ]; then
		echo "run-bench.sh: trace $traces/$t missing (see selftests/traces/README.md)" >&2
		exit 1
	fi
	trace_files="$trace_files $traces/$t"
done

if [ $mode = smoke ] || [ $mode = tiny ]; then
	cache_args="--n 1k --keys 16,64 --ops 20k --lat-ops 2k --rounds 1 --threads 2"
	cache_libc_args="--n 1k --keys 16 --ops 10k --lat-ops 1k --rounds 1 --threads 2"
	alloc_args="--sizes 16,1024 --n 20k --hot-ops 100k --rounds 1 --threads 1,2"
	shrink_args="--size 16MiB --rounds 1"
	trace_args="--limit 20k --zipf 20k"
	daemon_args="--rounds 1 --time 1 --fill-mib 16"
	policy_args="--requests 20000 --memory 4"
	vg_n=1000 vg_ops=2000
	vg_peers="slabcache"
	vg_phases="find-hit"
	vg_allocators="sc_slab"
	vg_steps="alloc-after-random-free"
elif [ $mode = quick ]; then
	cache_args="--n 1k,100k,1M --ops 500k --rounds 3"
	alloc_args="--sizes 16,64,256,1024 --n 250k --hot-ops 2M --rounds 3"
	shrink_args="--size 256MiB --rounds 3"
	trace_args="--limit 1M --zipf 1M --scans"
	daemon_args="--rounds 3 --time 3"
	policy_args="--requests 200000 --memory 4"
	vg_n=100000 vg_ops=100000
	vg_peers="slabcache qcache qcache-seed0 uthash"
	vg_phases="find-hit insert-evict get-or-insert"
	vg_allocators="sc_slab glibc mallocx"
	vg_steps="free-random alloc-after-random-free"
else
	cache_args="--n 1k,100k,1M --ops 2M --rounds 5 $large"
	cache_libc_args=$cache_args
	alloc_args="--n 1M --hot-ops 10M --rounds 5"
	shrink_args="--size 1GiB --rounds 5"
	trace_args="--zipf 1M --scans"
	daemon_args="--rounds 5 --time 5"
	policy_args="--requests 1000000 --memory 16"
	vg_n=100000 vg_ops=100000
	vg_peers="slabcache qcache qcache-seed0 uthash"
	vg_phases="fill find-hit find-zipf find-miss insert-evict remove get-or-insert"
	vg_allocators="sc_slab glibc jemalloc mallocx"
	vg_steps="hot-pair alloc-fresh free-lifo alloc-warm free-random alloc-after-random-free"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
if [ $mode = smoke ]; then
	# smoke output stays in the build tree; the terminal gets one line
	# per program (make check reads it)
	out=$objtree/bench-smoke
	rm -rf "$out"
	mkdir -p "$out"
	exec 3>/dev/null
else
	results=$srctree/bench/results
	out=$results/$stamp
	mkdir -p "$out"
	ln -sfn "$stamp" "$results/latest"
	exec 3>&1
fi
report=$out/report.md

# section TITLE COMMAND...: run one bench, tables to stdout and the report
section() {
	title=$1
	shift
	printf '  %-7s %s\n' BENCH "$title" >&2
	# progress and notes on stderr: live, except in smoke mode
	rc=0
	if [ $mode = smoke ]; then
		"$@" >"$out/section.md" 2>"$out/section.err" || rc=$?
	else
		"$@" >"$out/section.md" || rc=$?
	fi
	if [ $rc -ne 0 ]; then
		tail -n 40 "$out/section.md" >&2
		[ $mode = smoke ] && tail -n 40 "$out/section.err" >&2
		echo "run-bench.sh: $title failed" >&2
		exit 1
	fi
	tee -a "$report" <"$out/section.md" >&3
	echo | tee -a "$report" >&3
	rm -f "$out/section.md" "$out/section.err"
}

{
	echo "# slabcache benchmarks, $stamp ($mode)"
	echo
	echo "Machine shared with other work unless stated otherwise; compare"
	echo "ratios within one run only (perf notes §3.5)."
	echo
} | tee "$report" >&3

# shellcheck disable=SC2086
section "cache" "$bin/sc-bench-cache" $cache_args --csv "$out/cache.csv"
if [ $mode != quick ]; then
	# The same with glibc as the process allocator (a CONFIG_JEMALLOC=n
	# library): the peers as their users have them.
	# shellcheck disable=SC2086
	section "cache (libc build)" "$bin/sc-bench-cache-libc" $cache_libc_args \
		--csv "$out/cache-libc.csv"
fi
# vg_cache / vg_alloc: the valgrind companions, one table each
vg_cache() {
	echo "| peer | phase | n | key B | Ir/op | LL misses/op | D1 misses/op |"
	echo "|---|---|---|---|---|---|---|"
	csv=$out/valgrind-cache.csv
	echo "peer,phase,n,key,ops,ir_per_op,ll_miss_per_op,d1_miss_per_op" >"$csv"
	for peer in $vg_peers; do
		for phase in $vg_phases; do
			"$srctree/tools/bench/vg-companion.sh" "$csv" \
				"$peer,$phase,$vg_n,16" "$bin/sc-bench-cache" \
				--vg "$phase" --peers "$peer" --n "$vg_n" \
				--ops "$vg_ops" --keys 16 || return 1
		done
	done
}

vg_alloc() {
	echo "| allocator | step | object B | n | Ir/op | LL misses/op | D1 misses/op |"
	echo "|---|---|---|---|---|---|---|"
	csv=$out/valgrind-alloc.csv
	echo "allocator,step,size,n,ops,ir_per_op,ll_miss_per_op,d1_miss_per_op" >"$csv"
	have=$("$bin/sc-bench-alloc" --list)
	for a in $vg_allocators; do
		echo "$have" | grep -qx "$a" || continue
		for step in $vg_steps; do
			"$srctree/tools/bench/vg-companion.sh" "$csv" \
				"$a,$step,64,$vg_n" "$bin/sc-bench-alloc" \
				--vg "$step" --only "$a" --sizes 64 --n "$vg_n" \
				--hot-ops "$vg_n" || return 1
		done
	done
}

if [ $valgrind = yes ] && command -v valgrind >/dev/null; then
	{
		echo "## Deterministic companions (valgrind)"
		echo
		echo "Ir and simulated misses per operation of one measured loop"
		echo "(N = $vg_n; LL simulated at 1 MiB, see"
		echo "tools/bench/vg-companion.sh)."
		echo
	} | tee -a "$report" >&3
	section "valgrind: cache" vg_cache
	section "valgrind: alloc" vg_alloc
fi
# shellcheck disable=SC2086
section "alloc" "$bin/sc-bench-alloc" $alloc_args --csv "$out/alloc.csv"
# shellcheck disable=SC2086
section "shrink (default backend)" "$bin/sc-bench-shrink" $shrink_args \
	--csv "$out/shrink-default.csv" --samples "$out/rss-default.dat"
# shellcheck disable=SC2086
section "shrink (libc backend)" "$bin/sc-bench-shrink-libc" $shrink_args \
	--csv "$out/shrink-libc.csv" --samples "$out/rss-libc.dat"
# shellcheck disable=SC2086
section "trace replay" "$bin/sc-bench-trace" $trace_args \
	--csv "$out/trace.csv" $trace_files
if [ -r "$traces/OLTP.lis.zst" ] && [ $mode != smoke ] && [ $mode != tiny ]; then
	# the ARC paper's OLTP sizes, against its ARC
	section "trace replay: OLTP at the ARC paper's sizes" \
		"$bin/sc-bench-trace" --zipf 0 --sizes 1000,2000,5000,10000,15000 \
		--csv "$out/trace-oltp-arc.csv" "$traces/OLTP.lis.zst"
fi

slabcached=$objtree/tools/slabcached/slabcached
if [ -x "$slabcached" ] && command -v memcached >/dev/null &&
	command -v memcaslap >/dev/null; then
	# shellcheck disable=SC2086
	section "daemon (slabcached vs memcached)" \
		"$srctree/tools/bench/daemon-bench.sh" "$slabcached" \
		"$out/daemon.csv" $daemon_args
fi

# The daemon's policies through pymemcache: Debian's python3-pymemcache
# is for /usr/bin/python3, which a python3 first in PATH may not see.
policy_py=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 &&
		"$p" -c 'import pymemcache' 2>/dev/null; then
		policy_py=$p
		break
	fi
done
if [ -x "$slabcached" ] && [ -n "$policy_py" ]; then
	# shellcheck disable=SC2086
	section "daemon policies (Zipf 0.99 through pymemcache)" \
		"$policy_py" "$srctree/tools/bench/policy-bench.py" \
		--daemon "$slabcached" $policy_args --csv "$out/policy.csv"
fi

if [ $plots = yes ] && command -v gnuplot >/dev/null; then
	echo "  PLOT    $out/*.png" >&2
	"$srctree/tools/bench/plot.sh" "$out" 2>"$out/plot.log" || {
		cat "$out/plot.log" >&2
		exit 1
	}
fi
[ $mode = smoke ] || echo "results: $out" >&2
