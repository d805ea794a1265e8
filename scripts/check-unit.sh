#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The systemd unit's sandbox, rated by systemd itself: the overall exposure
# of `systemd-analyze security --offline=true` must not exceed the limit
# ("OK" is 2.0 and below), and MemoryPressureWatch= must still be there.
# Writes TAP to <results>/unit.tap; a skip where systemd-analyze is missing
# or too old for --offline (systemd 250).
#
# Usage: scripts/check-unit.sh <unit file> <max exposure> <results dir>
set -u
unit=$1
max=$2
results=$3
mkdir -p "$results"
tap=$results/unit.tap
name=$(basename "$unit")
{
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		echo "ok 1 - $name exposure <= $max # SKIP systemd-analyze not installed"
	elif ! out=$(systemd-analyze security --offline=true "$unit" 2>&1); then
		if echo "$out" | grep -q 'unrecognized option'; then
			echo "ok 1 - $name exposure <= $max # SKIP systemd-analyze has no --offline (systemd < 250)"
		else
			echo "not ok 1 - systemd-analyze security --offline=true $name"
			echo "$out" | sed 's/^/# /'
		fi
	else
		exposure=$(echo "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
		if [ -n "$exposure" ] && awk "BEGIN { exit !($exposure <= $max) }"; then
			echo "ok 1 - $name exposure $exposure <= $max (systemd-analyze security --offline=true)"
		else
			echo "not ok 1 - $name exposure ${exposure:-unknown} > $max"
			echo "$out" | grep '✗' | sed 's/^/# /'
		fi
	fi
	if grep -q '^MemoryPressureWatch=' "$unit" && grep -q '^DynamicUser=yes' "$unit"; then
		echo "ok 2 - $name keeps MemoryPressureWatch= and runs as a DynamicUser="
	else
		echo "not ok 2 - $name lost MemoryPressureWatch= or DynamicUser="
	fi
	echo "1..2"
} >"$tap"
sed 's/^ok [0-9]* - /  PASS    unit: /; s/^not ok [0-9]* - /  FAIL    unit: /; /^1\.\./d' "$tap"
! grep -q '^not ok' "$tap"
