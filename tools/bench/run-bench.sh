#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run the bench programs of tools/bench and collect their output
# (`make bench`, `make bench-smoke`; see Documentation/performance.rst).
#
# Usage: run-bench.sh SRCTREE OBJTREE [--smoke | --tiny | --quick |
#                     --threads-only | --compare | --targets] [--large]
#                     [--no-valgrind] [--no-plots] [--cache-args "ARGS"]
#
#   (default)  full sizes: caches of 1k, 100k and 1M entries (the cache
#              bench runs twice: in this build, and in the CONFIG_JEMALLOC=n
#              build where malloc is glibc's), allocations of 1M objects of
#              16..1024 B, shrink of 1 GiB on both backends, the three
#              traces (and OLTP at the ARC paper's sizes), valgrind
#              companions at N = 100k, the daemon bench, the daemon's
#              exact latencies (daemon-latency.sh), the daemon's
#              policies (tools/bench/policy-bench.py).
#              The markdown tables go to stdout and, with the CSVs and
#              PNGs, to bench/results/<UTC stamp>/ (bench/results/latest
#              points there)
#   --quick    reduced sizes, the cache bench in this build only
#   --threads-only
#              the shared-cache phases alone (sc-bench-cache --shared-only,
#              16-byte keys, 1k/100k/1M entries, 1, 2, 4 and 8 threads;
#              slabcache, uthash+utlist behind one mutex, the 64-way
#              striped uthash+utlist, cds_lfht), and the scaling tables:
#              scaling.md and scaling.rst beside cache-threads.csv
#   --compare  two builds in one run: sc-bench-cache-ref (make
#              bench-compare REF=...) with this tree's slabcache, REF's and
#              uthash+utlist, one thread, 16-byte keys, 1k/100k/1M; the
#              comparison tables: compare.md and compare.rst
#   --targets  the concurrency targets in one run (make bench-targets
#              REF=...): --threads-only, then --compare, then the
#              allocation bench at 64-byte objects with 1 and 2 threads
#              (the cache runs with 1M operations per phase, not 2M);
#              targets.md and targets.rst gather their tables under a
#              header with the commits, the command, the load (uptime)
#              before and after, and the run time
#   --rounds R measured rounds of the --threads-only, --compare and
#              --targets runs (default 5; fewer is quicker and noisier)
#   --cache-args "ARGS"
#              replace the sc-bench-cache arguments of --threads-only and
#              --compare (sizes, rounds, ...)
#   --large    add caches of 10M entries
#   --smoke    every program once at a tiny size, output into
#              OBJTREE/bench-smoke/; prints one line per program. It checks
#              that the programs build and run, not how fast they are.
#   --tiny     the smoke sizes with the full run's output (tables on
#              stdout, bench/results/): to check this script
#
# The daemon bench (daemon-bench.sh) runs when slabcached is built and
# memcached and memaslap are installed (daemon-latency.sh: memcached and
# sc-daemon-latency); valgrind is skipped for sanitizer
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
cache_args_given=
rounds=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) mode=smoke ;;
	--tiny) mode=tiny ;;
	--quick) mode=quick ;;
	--threads-only) mode=threads ;;
	--compare) mode=compare ;;
	--targets) mode=targets ;;
	--large) large=--large ;;
	--no-valgrind) valgrind=no ;;
	--no-plots) plots=no ;;
	--rounds)
		if [ $# -lt 2 ] || ! [ "$2" -gt 0 ] 2>/dev/null; then
			echo "run-bench.sh: --rounds needs a positive count" >&2
			exit 2
		fi
		rounds=$2
		shift
		;;
	--cache-args)
		[ $# -ge 2 ] || {
			echo "run-bench.sh: --cache-args needs a value" >&2
			exit 2
		}
		cache_args_given=$2
		shift
		;;
	*)
		echo "run-bench.sh: unknown option $1" >&2
		exit 2
		;;
	esac
	shift
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

# the shared-cache peers of --threads-only (uthash is the one-mutex peer)
threads_peers=slabcache,uthash,striped,lfht
threads_args="--shared-only --shared find,get,mix --keys 16 --n 1k,100k,1M --ops 2M --rounds 5 --threads 1,2,4,8 --peers $threads_peers"
compare_args="--n 1k,100k,1M --keys 16 --ops 2M --lat-ops 100k --rounds 5 --threads 1 --shared find,get,mix --peers slabcache,slabcache-ref,uthash"
if [ $mode = smoke ] || [ $mode = tiny ]; then
	cache_args="--n 1k --keys 16,64 --ops 20k --lat-ops 2k --rounds 1 --threads 1,2,8"
	cache_libc_args="--n 1k --keys 16 --ops 10k --lat-ops 1k --rounds 1 --threads 2"
	threads_args="--shared-only --shared find,get,mix --keys 16 --n 1k --ops 20k --rounds 1 --threads 1,2,8 --peers $threads_peers"
	compare_args="--n 1k --keys 16 --ops 10k --lat-ops 1k --rounds 1 --threads 1 --shared find,get,mix --peers slabcache,slabcache-ref,uthash"
	alloc_args="--sizes 16,1024 --n 20k --hot-ops 100k --rounds 1 --threads 1,2"
	targets_alloc_args="--sizes 64 --n 20k --hot-ops 100k --rounds 1 --threads 1,2"
	rcu_args="--quick"
	shrink_args="--size 16MiB --rounds 1"
	trace_args="--limit 20k --zipf 20k"
	daemon_args="--rounds 1 --time 1 --fill-mib 16"
	latency_args="--rounds 1 --time 0.5"
	policy_args="--requests 20000 --memory 4"
	vg_n=1000 vg_ops=2000
	vg_peers="slabcache"
	vg_phases="find-hit"
	vg_allocators="sc_slab"
	vg_steps="alloc-after-random-free"
elif [ $mode = quick ]; then
	cache_args="--n 1k,100k,1M --ops 500k --rounds 3"
	alloc_args="--sizes 16,64,256,1024 --n 250k --hot-ops 2M --rounds 3"
	rcu_args="--rounds 3 --sections 2000000 --syncs 320"
	shrink_args="--size 256MiB --rounds 3"
	trace_args="--limit 1M --zipf 1M --scans"
	daemon_args="--rounds 3 --time 3"
	latency_args="--rounds 3 --time 2"
	policy_args="--requests 200000 --memory 4"
	vg_n=100000 vg_ops=100000
	vg_peers="slabcache qcache qcache-seed0 uthash"
	vg_phases="find-hit insert-evict get-or-insert"
	vg_allocators="sc_slab glibc mallocx"
	vg_steps="free-random alloc-after-random-free"
else
	# the threads have their own section (cache, threads)
	cache_args="--n 1k,100k,1M --ops 2M --rounds 5 --shared none $large"
	cache_libc_args="--n 1k,100k,1M --ops 2M --rounds 5 --threads 1,2 --shared find,get $large"
	alloc_args="--n 1M --hot-ops 10M --rounds 5"
	targets_alloc_args="--sizes 64 --n 1M --hot-ops 10M --rounds 5 --threads 1,2"
	rcu_args="--rounds 5 --sections 5000000"
	shrink_args="--size 1GiB --rounds 5"
	trace_args="--zipf 1M --scans"
	daemon_args="--rounds 5 --time 5"
	latency_args="--rounds 5 --time 3"
	policy_args="--requests 1000000 --memory 16"
	vg_n=100000 vg_ops=100000
	vg_peers="slabcache qcache qcache-seed0 uthash"
	vg_phases="fill find-hit find-zipf find-miss insert-evict remove get-or-insert"
	vg_allocators="sc_slab glibc jemalloc mallocx"
	vg_steps="hot-pair alloc-fresh free-lifo alloc-warm free-random alloc-after-random-free"
fi

# The targets run does both cache runs and the allocation bench, so each
# cache run takes 1M operations per phase instead of 2M (rounds as given)
if [ $mode = targets ]; then
	threads_args=$(echo "$threads_args" | sed 's/--ops 2M/--ops 1M/')
	compare_args=$(echo "$compare_args" | sed 's/--ops 2M/--ops 1M/')
fi
if [ -n "$rounds" ]; then
	threads_args=$(echo "$threads_args" | sed "s/--rounds [0-9]*/--rounds $rounds/")
	compare_args=$(echo "$compare_args" | sed "s/--rounds [0-9]*/--rounds $rounds/")
	targets_alloc_args=$(echo "${targets_alloc_args:-}" |
		sed "s/--rounds [0-9]*/--rounds $rounds/")
fi
if [ -n "$cache_args_given" ]; then
	threads_args="--shared-only $cache_args_given"
	compare_args="--peers slabcache,slabcache-ref,uthash $cache_args_given"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
case $mode in
threads | compare | targets) stamp=$stamp-$mode ;;
esac
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

start_s=$(date +%s)
start_uptime=$(uptime | sed 's/^ *//')
{
	echo "# slabcache benchmarks, $stamp ($mode)"
	echo
	echo "Machine shared with other work unless stated otherwise; compare"
	echo "ratios within one run only (perf notes §3.5)."
	echo
} | tee "$report" >&3

# cache_threads: the shared-cache phases and their scaling tables
cache_threads() {
	# shellcheck disable=SC2086
	section "cache, threads" "$bin/sc-bench-cache" $threads_args \
		--csv "$out/cache-threads.csv"
	"$srctree/tools/bench/tables.sh" scaling "$out/cache-threads.csv" \
		>"$out/scaling.md"
	"$srctree/tools/bench/tables.sh" scaling --rst \
		"$out/cache-threads.csv" >"$out/scaling.rst"
	{
		echo "## Shared cache, threads: scaling"
		cat "$out/scaling.md"
		echo
	} | tee -a "$report" >&3
}

# cache_compare: two builds in one process, and the comparison tables
cache_compare() {
	# shellcheck disable=SC2086
	section "cache, two builds" "$bin/sc-bench-cache-ref" $compare_args \
		--csv "$out/compare.csv"
	"$srctree/tools/bench/tables.sh" compare "$out/compare.csv" \
		>"$out/compare.md"
	"$srctree/tools/bench/tables.sh" compare --rst "$out/compare.csv" \
		>"$out/compare.rst"
	{
		echo "## Two builds in one run"
		cat "$out/compare.md"
		echo
	} | tee -a "$report" >&3
}

# alloc_threads: the allocation bench of the targets (64-byte objects,
# 1 and 2 threads) and its summary against jemalloc
alloc_threads() {
	# shellcheck disable=SC2086
	section "alloc, threads" "$bin/sc-bench-alloc" $targets_alloc_args \
		--csv "$out/alloc.csv"
	"$srctree/tools/bench/tables.sh" alloc "$out/alloc.csv" \
		>"$out/alloc-targets.md"
	"$srctree/tools/bench/tables.sh" alloc --rst "$out/alloc.csv" \
		>"$out/alloc-targets.rst"
}

# targets_report FORMAT: the tables of the targets run in one file, under
# what a reader needs to trust them: the trees measured, the command, the
# load before and after, and the run time
targets_report() {
	fmt=$1
	this=$(git -C "$srctree" describe --always --dirty --abbrev=7 2>/dev/null ||
		echo "not a git checkout")
	refsha=$(cut -c1-7 "$objtree/bench-ref/src.commit" 2>/dev/null || echo "-")
	end_uptime=$(uptime | sed 's/^ *//')
	end_s=$(date +%s)
	mins=$(((end_s - start_s + 30) / 60))
	ext=$fmt
	backend=libc
	grep -q '^#define CONFIG_JEMALLOC 1' "$objtree/config.h" 2>/dev/null &&
		backend=jemalloc
	title="Concurrency targets, $stamp"
	if [ "$fmt" = md ]; then
		echo "## $title"
	else
		echo "$title"
		echo "$title" | sed 's/./~/g'
	fi
	echo
	echo "- This tree: $this; REF: $refsha (${BENCH_REF:-REF}); backend $backend"
	cmd="make bench-targets REF=${BENCH_REF:-REF}"
	[ -n "$rounds" ] && cmd="$cmd BENCH_ARGS='--rounds $rounds'"
	echo "- Command: flock /tmp/slabcache-heavy.lock $cmd"
	echo "- Load before: $start_uptime"
	echo "- Load after: $end_uptime"
	echo "- Run time: $mins min; results: $out"
	for f in scaling compare alloc-targets; do
		[ -r "$out/$f.$ext" ] || continue
		echo
		cat "$out/$f.$ext"
	done
}

if [ $mode = threads ] || [ $mode = compare ] || [ $mode = targets ]; then
	if [ $mode != threads ] && [ ! -x "$bin/sc-bench-cache-ref" ]; then
		echo "run-bench.sh: no $bin/sc-bench-cache-ref;" \
			"build it with make bench-compare REF=..." >&2
		exit 1
	fi
	[ $mode = compare ] || cache_threads
	[ $mode = threads ] || cache_compare
	if [ $mode = targets ]; then
		alloc_threads
		targets_report md >"$out/targets.md"
		targets_report rst >"$out/targets.rst"
		tee -a "$report" <"$out/targets.md" >&3
	fi
	echo "results: $out" >&2
	exit 0
fi

# shellcheck disable=SC2086
section "cache" "$bin/sc-bench-cache" $cache_args --csv "$out/cache.csv"
if [ $mode != quick ]; then
	cache_threads
fi
if [ $mode = smoke ] || [ $mode = tiny ]; then
	if [ -x "$bin/sc-bench-cache-ref" ]; then
		cache_compare
	else
		printf '  %-7s %s\n' SKIP \
			"cache, two builds: no git history to build a REF from" >&2
	fi
fi
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
section "rcu read-side sections" "$bin/sc-bench-rcu" $rcu_args
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
if [ -x "$slabcached" ] && [ -x "$bin/sc-daemon-latency" ] &&
	command -v memcached >/dev/null; then
	# shellcheck disable=SC2086
	section "daemon latency, exact (slabcached vs memcached)" \
		"$srctree/tools/bench/daemon-latency.sh" "$slabcached" \
		"$out/daemon-latency.csv" $latency_args
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
# the targets report from the smoke sizes, so that its script cannot rot
if { [ $mode = smoke ] || [ $mode = tiny ]; } && [ -r "$out/compare.csv" ]; then
	"$srctree/tools/bench/tables.sh" alloc "$out/alloc.csv" \
		>"$out/alloc-targets.md"
	"$srctree/tools/bench/tables.sh" alloc --rst "$out/alloc.csv" \
		>"$out/alloc-targets.rst"
	targets_report md >"$out/targets.md"
	targets_report rst >"$out/targets.rst"
	printf '  %-7s %s\n' BENCH "targets report" >&2
fi
[ $mode = smoke ] || echo "results: $out" >&2
