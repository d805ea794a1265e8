#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run Criterion suites once, keeping each suite's own closing synthesis
# line visible and a TAP copy under <objtree>/results for the summary.
#
# Usage: scripts/run-tests.sh <objtree> <filter-glob or ""> <test-binary...>
set -u
objtree=$1
filter=$2
shift 2
results=$objtree/results
mkdir -p "$results"

status=0
for t in "$@"; do
	name=$(basename "$t")
	echo "  TEST    ${t#"$objtree"/}${filter:+ --filter $filter}"
	if [ -n "$filter" ]; then
		"$t" --filter "$filter" --tap="$results/$name.tap"
	else
		"$t" --tap="$results/$name.tap"
	fi
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "  FAIL    $name (exit $rc)" >&2
		echo "not ok - $name exited $rc" >>"$results/$name.tap"
		status=1
	fi
done
exit $status
