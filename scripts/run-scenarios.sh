#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run the kselftest-style scenario scripts (selftests/scenarios/*.sh). Each
# prints TAP 13; skips carry "# SKIP reason". Copies go to
# <objtree>/results/scenario-<name>.tap for the summary.
set -u
srctree=$1
objtree=$2
results=$objtree/results
mkdir -p "$results"
export SC_SRCTREE="$srctree" SC_OBJTREE="$objtree"
status=0
for s in "$srctree"/selftests/scenarios/*.sh; do
	[ -e "$s" ] || continue
	name=$(basename "$s" .sh)
	echo "  SCEN    $name"
	sh "$s" | tee "$results/scenario-$name.tap"
	rc=$?
	# tee hides the script's status; a "not ok" line or no plan fails it.
	if grep -q '^not ok' "$results/scenario-$name.tap" ||
		! grep -q '^1\.\.' "$results/scenario-$name.tap"; then
		status=1
	fi
	[ $rc -eq 0 ] || status=1
done
exit $status
