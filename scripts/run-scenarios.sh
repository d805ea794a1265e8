#!/bin/bash
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
# Two groups. A scenario with the header line "# parallel: yes" shares
# nothing with the others: its daemons listen on ports the kernel picked
# (sdtest.free_port()), its files are in directories of its own (mktemp),
# and it neither reads PSI, cgroups or RSS nor times anything but its own
# bounds. Those run first, $SC_SCENARIO_JOBS at a time (default 2),
# longest first (by the header line "# seconds: N", about how long it
# takes alone on 2 cores), each one's output printed whole once it ends. Every other scenario runs
# after them, one at a time with nothing beside it, its output live: those
# that read memory pressure, use cgroups, measure RSS or latency. A new
# scenario is in the serial group until it says otherwise.
#
# Usage: scripts/run-scenarios.sh <srctree> <objtree> [name-glob [group]]
#   group: all (the default), parallel or serial: only that group (make
#   check runs the parallel group beside the bench smoke run, then the
#   serial group alone)
set -u
srctree=$1
objtree=$2
only=${3:-}
group=${4:-all}
case $group in
all | parallel | serial) ;;
*) echo "run-scenarios.sh: group must be all, parallel or serial" >&2; exit 2 ;;
esac
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

parallel=
serial=
for entry in $list; do
	s=${entry#*=}
	if sed -n '1,40p' "$s" | grep -q '^# parallel: yes$'; then
		secs=$(sed -n '1,40s/^# seconds: \([0-9][0-9]*\)$/\1/p' "$s" | head -n 1)
		[ "$group" = serial ] || parallel="$parallel ${secs:-0} $entry"
	else
		[ "$group" = parallel ] || serial="$serial $entry"
	fi
done
total=$(($(echo "$parallel" | wc -w) / 2 + $(echo "$serial" | wc -w)))
echo "TAP version 13"
echo "1..$total"
if [ "$total" -eq 0 ]; then
	[ -z "$list" ] || exit 0 # none of this group
	echo "# no scenario matches '${only}'" >&2
	exit 1
fi

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

# run_one NAME SCRIPT MODE: run one scenario; MODE live streams its
# output, MODE quiet keeps it in <tap>.out. Either way the verdict line
# (without its number) ends up in <tap>.verdict.
run_one()
{
	local name=$1 s=$2 mode=$3 tap=$results/scenario-$1.tap
	local limit why rc secs start verdict
	limit=$(sed -n '1,40s/^# timeout: \([0-9][0-9]*\)$/\1/p' "$s" | head -n 1)
	limit=${limit:-$default_timeout}
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
	rm -f "$tap.rc" "$tap.out" "$tap.verdict"
	if [ -n "$why" ]; then
		printf 'TAP version 13\nok 1 - %s # SKIP %s\n1..1\n' "$name" "$why" >"$tap"
		echo "ok|$name # SKIP $why" >"$tap.verdict"
		return
	fi
	start=$(date +%s)
	# The scenario's own exit status, through a file: a pipe into the
	# nesting sed would hide it.
	if [ "$mode" = live ]; then
		# its stderr goes straight through
		{
			timeout --kill-after=10 "$limit" "$@"
			echo $? >"$tap.rc"
		} | tee "$tap" | sed 's/^/# /'
	else
		# its stderr after its TAP, nested too
		{
			timeout --kill-after=10 "$limit" "$@" 2>"$tap.err"
			echo $? >"$tap.rc"
		} >"$tap"
		{
			sed 's/^/# /' "$tap"
			sed 's/^/# /' "$tap.err"
		} >"$tap.out"
		rm -f "$tap.err"
	fi
	rc=$(cat "$tap.rc" 2>/dev/null || echo 255)
	rm -f "$tap.rc"
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="TIMEOUT after $limit s"
	elif [ "$rc" -eq $KSFT_SKIP ]; then
		echo "ok - $name # SKIP exit $KSFT_SKIP" >>"$tap"
		echo "ok|$name # SKIP (exit $KSFT_SKIP)" >"$tap.verdict"
		return
	elif [ "$rc" -ne 0 ]; then
		why="exit status $rc"
	else
		why=$(check_tap "$tap")
	fi
	if [ -n "$why" ]; then
		echo "not ok - scenario $name: $why" >>"$tap"
		verdict="not ok|$name # $why ($secs s)"
	else
		verdict="ok|$name # $secs s"
	fi
	echo "$verdict" >"$tap.verdict"
}

status=0
i=0
# report NAME: print the scenario's verdict line with the next number.
report()
{
	local tap=$results/scenario-$1.tap v
	v=$(cat "$tap.verdict" 2>/dev/null || echo "not ok|$1 # runner lost its verdict")
	i=$((i + 1))
	echo "${v%%|*} $i ${v#*|}"
	case $v in
	"not ok|"*) status=1 ;;
	esac
	rm -f "$tap.verdict"
}

jobs=${SC_SCENARIO_JOBS:-2}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
declare -A running=()
# finish PID: print the output and verdict of the scenario that was PID.
finish()
{
	local name=${running[$1]}
	unset "running[$1]"
	echo "# scenario: $name"
	cat "$results/scenario-$name.tap.out" 2>/dev/null
	rm -f "$results/scenario-$name.tap.out"
	report "$name"
}
# wait_one: wait for one running scenario to end and report it.
wait_one()
{
	local pid
	while :; do
		wait -n -p pid "${!running[@]}"
		if [ -n "${pid:-}" ] && [ -n "${running[$pid]+x}" ]; then
			finish "$pid"
			return
		fi
		# no job of ours ended: find one that did
		for pid in "${!running[@]}"; do
			if ! kill -0 "$pid" 2>/dev/null; then
				wait "$pid" 2>/dev/null
				finish "$pid"
				return
			fi
		done
	done
}

# shellcheck disable=SC2086
for entry in $(printf '%s %s\n' $parallel | sort -k1,1nr -s | awk '{ print $2 }'); do
	while [ ${#running[@]} -ge "$jobs" ]; do
		wait_one
	done
	name=${entry%%=*}
	echo "  SCEN    $name (parallel)" >&2
	run_one "$name" "${entry#*=}" quiet &
	running[$!]=$name
done
while [ ${#running[@]} -gt 0 ]; do
	wait_one
done

for entry in $serial; do
	name=${entry%%=*}
	echo "# scenario: $name"
	echo "  SCEN    $name" >&2
	run_one "$name" "${entry#*=}" live
	report "$name"
done
exit $status
