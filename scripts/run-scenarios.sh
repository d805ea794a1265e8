#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The scenario runner, after kselftest's runner.sh: runs each scenario
# under a timeout, judges it by its real exit status and its TAP, and
# prints TAP 13 with each scenario's own output nested as "# " lines.
#
# Scenarios:
#   selftests/scenarios/*.sh      run with sh
#   selftests/slabcached/*.py     the daemon's scenarios, those that start
#                                 with a "#!" line (sdtest.py is their
#                                 module), run with a python3 that has
#                                 pymemcache when there is one
# A scenario passes when it exits 0, prints a plan ("1..N") and N results,
# and no "not ok". Exit status 4 (kselftest's KSFT_SKIP) skips it. A
# header line "# timeout: N" in a scenario sets its timeout in seconds
# (default $SC_SCENARIO_TIMEOUT, 300); past it the scenario is sent
# SIGTERM, then SIGKILL 10 s later, and fails.
#
# Each scenario's own TAP goes to <objtree>/results/scenario-<name>.tap
# for scripts/summary.sh, with one "not ok" line added when the runner
# fails a scenario that did not say so itself.
#
# Usage: scripts/run-scenarios.sh <srctree> <objtree> [name-glob]
set -u
srctree=$1
objtree=$2
only=${3:-}
results=$objtree/results
mkdir -p "$results"
export SC_SRCTREE="$srctree" SC_OBJTREE="$objtree"
# no __pycache__ in the source tree
export PYTHONDONTWRITEBYTECODE=1
default_timeout=${SC_SCENARIO_TIMEOUT:-300}
KSFT_SKIP=4

# A python3 with pymemcache: Debian's python3-pymemcache is for
# /usr/bin/python3, which another python3 first in PATH may not see.
SD_PYTHON=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 &&
		"$p" -c 'import pymemcache' 2>/dev/null; then
		SD_PYTHON=$p
		break
	fi
done
if [ -z "$SD_PYTHON" ] && command -v python3 >/dev/null 2>&1; then
	SD_PYTHON=python3
fi
SD_DAEMON=$objtree/tools/slabcached/slabcached
export SD_PYTHON SD_DAEMON

list=
for s in "$srctree"/selftests/scenarios/*.sh "$srctree"/selftests/slabcached/*.py; do
	[ -f "$s" ] || continue
	case $s in
	*.py) head -c 2 "$s" | grep -q '^#!' || continue ;;
	esac
	name=$(basename "$s")
	name=${name%.*}
	case $s in
	*/slabcached/*) name=slabcached-$name ;;
	esac
	if [ -n "$only" ]; then
		# shellcheck disable=SC2254
		case $name in
		$only) ;;
		*) continue ;;
		esac
	fi
	list="$list $name=$s"
done

total=$(echo "$list" | wc -w)
echo "TAP version 13"
echo "1..$total"
[ "$total" -gt 0 ] || { echo "# no scenario matches '${only}'" >&2; exit 1; }

# check_tap FILE: "" if FILE is complete TAP with no failure, else why.
check_tap()
{
	awk '
	/^1\.\.[0-9]+/ { if (plan == "") plan = substr($1, 4) + 0 }
	/^not ok/ { bad++; n++; next }
	/^ok/ { n++ }
	END {
		if (plan == "") print "no plan"
		else if (bad) print bad " not ok"
		else if (n != plan) print n " results for a plan of " plan
	}' "$1"
}

status=0
i=0
for entry in $list; do
	i=$((i + 1))
	name=${entry%%=*}
	s=${entry#*=}
	tap=$results/scenario-$name.tap
	limit=$(sed -n '1,40s/^# timeout: \([0-9][0-9]*\)$/\1/p' "$s" | head -n 1)
	limit=${limit:-$default_timeout}
	echo "# scenario: $name"
	echo "  SCEN    $name" >&2
	why=
	case $s in
	*.py)
		if [ ! -x "$SD_DAEMON" ]; then
			why="no daemon at $SD_DAEMON"
		elif [ -z "$SD_PYTHON" ]; then
			why="python3 not installed"
		fi
		set -- "$SD_PYTHON" "$s"
		;;
	*) set -- sh "$s" ;;
	esac
	if [ -n "$why" ]; then
		printf 'TAP version 13\nok 1 - %s # SKIP %s\n1..1\n' "$name" "$why" >"$tap"
		echo "ok $i $name # SKIP $why"
		continue
	fi
	start=$(date +%s)
	# The scenario's own exit status, through a file: a pipe into the
	# nesting sed would hide it. Its stderr goes straight through.
	rm -f "$tap.rc"
	{
		timeout --kill-after=10 "$limit" "$@"
		echo $? >"$tap.rc"
	} | tee "$tap" | sed 's/^/# /'
	rc=$(cat "$tap.rc" 2>/dev/null || echo 255)
	rm -f "$tap.rc"
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="TIMEOUT after $limit s"
	elif [ "$rc" -eq $KSFT_SKIP ]; then
		echo "ok $i $name # SKIP (exit $KSFT_SKIP)"
		echo "ok - $name # SKIP exit $KSFT_SKIP" >>"$tap"
		continue
	elif [ "$rc" -ne 0 ]; then
		why="exit status $rc"
	else
		why=$(check_tap "$tap")
	fi
	if [ -n "$why" ]; then
		echo "not ok $i $name # $why ($secs s)"
		echo "not ok - scenario $name: $why" >>"$tap"
		status=1
	else
		echo "ok $i $name # $secs s"
	fi
done
exit $status
