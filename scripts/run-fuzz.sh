#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The fuzz targets' two modes (fuzz/Makefile.inc).
#
#   run-fuzz.sh replay <srctree> <objtree> <target>...
#	Every input of fuzz/corpus/<target>/ once through <objtree>/fuzz/
#	fuzz-<target> (the replay driver). TAP in <objtree>/results/fuzz.tap;
#	a missing or empty corpus fails.
#   run-fuzz.sh fuzz <srctree> <objtree> <seconds> <target>...
#	libFuzzer for <seconds> on each target in turn (nice 15), from the
#	corpus in the tree; then the inputs that reach new coverage are
#	merged into fuzz/corpus/<target>/. A crash stops with its input
#	saved under <objtree>/artifacts/.
set -u
mode=$1
srctree=$2
objtree=$3
shift 3

case $mode in
replay)
	results=$objtree/results
	mkdir -p "$results"
	tap=$results/fuzz.tap
	echo "TAP version 13" >"$tap"
	echo "1..$#" >>"$tap"
	status=0
	i=0
	for t in "$@"; do
		i=$((i + 1))
		corpus=$srctree/fuzz/corpus/$t
		echo "  REPLAY  fuzz/corpus/$t"
		if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
			echo "run-fuzz.sh: $corpus: no corpus (it is part of the tree)" >&2
			echo "not ok $i - fuzz-$t: no corpus at fuzz/corpus/$t" >>"$tap"
			status=1
			continue
		fi
		start=$(date +%s)
		out=$("$objtree/fuzz/fuzz-$t" -q "$corpus" 2>&1)
		rc=$?
		secs=$(($(date +%s) - start))
		last=$(printf '%s\n' "$out" | tail -n 1)
		if [ $rc -eq 0 ]; then
			echo "ok $i - fuzz-$t: $last ($secs s)" >>"$tap"
		else
			printf '%s\n' "$out" | tail -n 40 >&2
			echo "not ok $i - fuzz-$t: exit $rc: $last" >>"$tap"
			status=1
		fi
	done
	sed -n 's/^\(not \)\{0,1\}ok [0-9]* - /  /p' "$tap"
	exit $status
	;;
fuzz)
	secs=$1
	shift
	artifacts=$objtree/artifacts
	mkdir -p "$artifacts"
	for t in "$@"; do
		corpus=$srctree/fuzz/corpus/$t
		prog=$objtree/fuzz/fuzz-$t
		new=$(mktemp -d "${TMPDIR:-/tmp}/sc-fuzz-$t.XXXXXX")
		mkdir -p "$corpus"
		dict=
		[ -f "$srctree/fuzz/$t.dict" ] && dict=-dict=$srctree/fuzz/$t.dict
		echo "  FUZZ    $t for $secs s"
		# New inputs go to a scratch directory first; the corpus in
		# the tree only gets those that add coverage (the merge).
		nice -n 15 "$prog" -max_total_time="$secs" -print_final_stats=1 \
			-timeout=25 -rss_limit_mb=4096 -max_len=4096 $dict \
			-artifact_prefix="$artifacts/$t-" "$new" "$corpus" \
			2>"$objtree/fuzz-$t.log"
		rc=$?
		grep -E '^(stat::|#[0-9]+ *DONE)' "$objtree/fuzz-$t.log" | sed 's/^/  /'
		if [ $rc -ne 0 ]; then
			grep -A30 -E 'ERROR|check failed|runtime error' \
				"$objtree/fuzz-$t.log" | head -n 60 >&2
			echo "run-fuzz.sh: $t failed (exit $rc); log $objtree/fuzz-$t.log," \
				"input in $artifacts/" >&2
			rm -rf "$new"
			exit 1
		fi
		before=$(ls "$corpus" | wc -l)
		"$prog" -merge=1 "$corpus" "$new" >/dev/null 2>&1
		echo "  MERGE   $t: $before -> $(ls "$corpus" | wc -l) corpus entries"
		rm -rf "$new"
	done
	;;
*)
	echo "usage: run-fuzz.sh replay|fuzz ..." >&2
	exit 2
	;;
esac
