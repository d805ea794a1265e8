#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 3
#
# The Python reference models of the replacement policies
# (selftests/policy/): hand-computed tiny traces, the key-hash port against
# sc_key_hash(), and trace samples against selftests/policy/expected.txt.
# kselftest style: TAP 13 on stdout, printed by the python script.
# Env: SC_SRCTREE (set by scripts/run-scenarios.sh); SC_TRACES overrides
# where the traces are ($SC_SRCTREE/selftests/traces by default).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SC_SRCTREE:=$(cd "$here/../.." && pwd)}"
export SC_SRCTREE
if ! command -v python3 >/dev/null 2>&1; then
	echo "TAP version 13"
	echo "ok 1 - policy-models # SKIP python3 not installed"
	echo "1..1"
	exit 0
fi
PYTHONDONTWRITEBYTECODE=1 exec python3 "$SC_SRCTREE/selftests/policy/test_models.py"
