#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Deterministic companions of the wall-clock figures: instructions
# (callgrind Ir) and simulated cache misses (cachegrind --cache-sim=yes;
# last level = ILmr + DLmr + DLmw, D1 = D1mr + D1mw) per operation of one
# measured loop of a bench program.
#
# The program must support "--vg PHASE": run the setup of PHASE, then its
# measured loop once, print "ops=N" and exit at once; and "--vg-skip": the
# same without the loop. Each figure is the difference between the two
# runs divided by N, so setup and teardown cancel out. The runs use
# setarch -R (no ASLR) so the cache simulation sees the same addresses each
# time: Ir is exact, the miss counts are reproducible.
#
# The simulated caches are fixed, not the host's: I1 32 KiB, D1 48 KiB,
# LL 1 MiB (this machine's L2). At N = 100k the working sets of the caches
# (7-13 MB) and of 100k small objects exceed that LL as N = 1M exceeds this
# machine's usable L3, so "LL misses per op" counts what becomes dependent
# DRAM misses at scale (perf notes §6.2.4). Override with
# VG_CACHES="--I1=... --D1=... --LL=...".
#
# Usage: vg-companion.sh OUT_CSV LABEL PROGRAM ARGS...
#   appends "LABEL,ops,ir_per_op,ll_miss_per_op,d1_miss_per_op" to OUT_CSV
#   (LABEL holds the CSV fields naming the measurement) and prints the
#   same as a markdown table row.
set -eu

out=$1
label=$2
shift 2
caches=${VG_CACHES:-"--I1=32768,8,64 --D1=49152,12,64 --LL=1048576,16,64"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

norand=
if setarch "$(uname -m)" -R true 2>/dev/null; then
	norand="setarch $(uname -m) -R"
fi

# total EVENT FILE: the summary value of one event in a valgrind out file
total() {
	awk -v ev="$1" '
		/^events:/ { for (i = 2; i <= NF; i++) idx[$i] = i - 1 }
		/^(summary|totals):/ { if (ev in idx) v = $(idx[ev] + 1) }
		END { print (v == "" ? 0 : v) }' "$2"
}

# run TOOL OUTFILE ARGS...: one valgrind run; prints the ops it reports
run() {
	tool=$1 file=$2
	shift 2
	extra=
	[ "$tool" = cachegrind ] && extra="--cache-sim=yes $caches"
	# shellcheck disable=SC2086
	if ! $norand valgrind --tool="$tool" $extra \
		--"$tool"-out-file="$file" "$@" >"$tmp/out" 2>"$tmp/vg.log"; then
		echo "vg-companion: $label: valgrind $tool failed:" >&2
		tail -n 20 "$tmp/vg.log" >&2
		exit 1
	fi
	sed -n 's/^ops=//p' "$tmp/out"
}

ops=$(run callgrind "$tmp/cg.run" "$@")
run callgrind "$tmp/cg.skip" "$@" --vg-skip >/dev/null
run cachegrind "$tmp/cc.run" "$@" >/dev/null
run cachegrind "$tmp/cc.skip" "$@" --vg-skip >/dev/null
if [ -z "$ops" ] || [ "$ops" -le 0 ]; then
	echo "vg-companion: $label: the program reported no operations" >&2
	exit 1
fi

ir=$(($(total Ir "$tmp/cg.run") - $(total Ir "$tmp/cg.skip")))
ll=0
d1=0
for ev in ILmr DLmr DLmw; do
	ll=$((ll + $(total $ev "$tmp/cc.run") - $(total $ev "$tmp/cc.skip")))
done
for ev in D1mr D1mw; do
	d1=$((d1 + $(total $ev "$tmp/cc.run") - $(total $ev "$tmp/cc.skip")))
done
figures=$(awk -v ir="$ir" -v ll="$ll" -v d1="$d1" -v o="$ops" \
	'BEGIN { printf "%.1f,%.3f,%.3f", ir / o, ll / o, d1 / o }')
echo "$label,$ops,$figures" >>"$out"
echo "$label,$figures" | awk -F, '{
	printf "|"
	for (i = 1; i <= NF; i++)
		printf " %s |", $i
	printf "\n"
}'
