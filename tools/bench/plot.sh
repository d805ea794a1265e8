#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Plot a bench run's CSVs with gnuplot (PNG, cairo):
#   cache-ns-vs-entries.png  ns/op (median, min-max bars) against entries,
#                            the three caches, 16 B keys, one thread
#   alloc-ns-vs-size.png     ns/op against object size, one thread
#   shrink-rss.png           RSS over time while filling and shrinking,
#                            both backends; dashed: each shrink's start
#
# Usage: plot.sh RESULTS_DIR
set -eu

dir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# series CSV BENCH PHASE WORKLOAD SIZE THREADS OUTPREFIX: one data file
# per peer ("x median min max"), x = n for cache, size for alloc; prints
# the gnuplot plot clause for them.
series() {
	csv=$1 bench=$2 phase=$3 workload=$4 size=$5 threads=$6 pfx=$7
	awk -F, -v b="$bench" -v ph="$phase" -v w="$workload" -v sz="$size" \
		-v th="$threads" -v pfx="$pfx" '
		/^#/ || $1 == "bench" { next }
		$1 == b && $2 == ph && $3 == w && $7 == th &&
		(sz == "" || $6 == sz) {
			peer = $4; gsub(/"/, "", peer)
			x = (b == "cache") ? $5 : $6
			if (!(peer in idx)) { idx[peer] = ++np; name[np] = peer }
			f = pfx "." idx[peer]
			print x, $10, $9, $11 > f
		}
		END {
			sep = ""
			for (i = 1; i <= np; i++) {
				printf "%s\"< sort -n %s.%d\" using 1:2:3:4 with yerrorlines title \"%s\"", sep, pfx, i, name[i]
				sep = ", "
			}
		}' "$csv"
}

gp=$tmp/plot.gp
: >"$gp"

if [ -r "$dir/cache.csv" ]; then
	{
		echo "reset"
		echo "set terminal pngcairo noenhanced size 1400,1000 font ',10'"
		echo "set output '$dir/cache-ns-vs-entries.png'"
		echo "set multiplot layout 2,2 title 'caches: ns/op (median, min-max), 16 B keys, 1 thread'"
		echo "set logscale x; set xlabel 'entries'; set ylabel 'ns/op'; set key top left; set grid"
		i=0
		for pw in "find-hit:uniform" "find-hit:zipf0.99" "insert-evict:new keys" "get-or-insert:zipf0.8"; do
			i=$((i + 1))
			ph=${pw%%:*} wl=${pw#*:}
			clause=$(series "$dir/cache.csv" cache "$ph" "$wl" 16 1 "$tmp/c$i")
			[ -n "$clause" ] || continue
			echo "set title '$ph, $wl'"
			echo "plot $clause"
		done
		echo "unset multiplot"
	} >>"$gp"
fi

if [ -r "$dir/alloc.csv" ]; then
	{
		echo "reset"
		echo "set terminal pngcairo noenhanced size 1400,1000 font ',10'"
		echo "set output '$dir/alloc-ns-vs-size.png'"
		echo "set multiplot layout 2,2 title 'sc_slab vs glibc vs jemalloc: ns/op (median, min-max), 1 thread'"
		echo "set logscale x 2; set xlabel 'object bytes'; set ylabel 'ns/op'; set key top left; set grid"
		i=0
		for pw in "hot pair:alloc+free" "alloc:fresh pages" "free:random" "alloc-after-random-free:random"; do
			i=$((i + 1))
			ph=${pw%%:*} wl=${pw#*:}
			clause=$(series "$dir/alloc.csv" alloc "$ph" "$wl" "" 1 "$tmp/a$i")
			[ -n "$clause" ] || continue
			echo "set title '$ph, $wl'"
			echo "plot $clause"
		done
		echo "unset multiplot"
	} >>"$gp"
fi

rss=
for b in default libc; do
	if [ -s "$dir/rss-$b.dat" ]; then
		# first line: "# backend NAME: ..."
		name=$(sed -n '1s/^# backend \([a-z]*\).*/\1/p' "$dir/rss-$b.dat")
		[ -n "$rss" ] && rss="$rss, "
		rss="$rss'$dir/rss-$b.dat' using 1:2 with lines title 'backend $name'"
	fi
done
if [ -n "$rss" ]; then
	{
		echo "reset"
		echo "set terminal pngcairo noenhanced size 1200,600 font ',10'"
		echo "set output '$dir/shrink-rss.png'"
		echo "set title 'RSS while filling a cache and sc_shrink_memory(CRITICAL), rounds back to back'"
		echo "set xlabel 'seconds'; set ylabel 'RSS MiB'; set grid; set key top right"
		# a dashed line where each sc_shrink_memory() call started
		for b in default libc; do
			[ -s "$dir/rss-$b.dat" ] || continue
			sed -n 's/^# round [0-9]*: shrink at \([0-9.]*\) s.*/\1/p' \
				"$dir/rss-$b.dat" | while read -r t; do
				echo "set arrow from $t, graph 0 to $t, graph 1 nohead dt 2 lc rgb 'gray'"
			done
		done
		echo "plot $rss"
	} >>"$gp"
fi

[ -s "$gp" ] && gnuplot "$gp"
