#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Add up every TAP file that `make check` wrote and print one closing line:
# "check: N passed, N failed, N skipped". Fails if anything failed.
set -u
objtree=$1
files=$(find "$objtree" -path '*/results/*.tap' 2>/dev/null)
[ -n "$files" ] || { echo "check: no results found" >&2; exit 1; }
# shellcheck disable=SC2086
awk '
/^not ok/ { failed++; next }
/^ok/ && /# [Ss][Kk][Ii][Pp]/ { skipped++; next }
/^ok/ { passed++ }
END {
	printf "check: %d passed, %d failed, %d skipped\n", passed, failed, skipped
	exit failed > 0
}' $files
