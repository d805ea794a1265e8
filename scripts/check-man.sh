#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The man pages: each formats without a groff warning (groff -ww, and
# man --warnings on a sample) and has a NAME line that whatis understands
# (lexgrog); every exported function has its section-3 page; slabcached(1)
# names every long option that slabcached --help lists. Writes TAP to <results>/man.tap.
#
# Usage: scripts/check-man.sh <man dir> <libslabcache.map> <slabcached>
#        <Documentation/man/slabcached.rst> <results dir>
set -u
mandir=$1
map=$2
daemon=$3
daemon_rst=$4
results=$5
mkdir -p "$results"
tap=$results/man.tap
: >"$tap"
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1" >>"$tap"; echo "  PASS    man: $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1" >>"$tap"; echo "  FAIL    man: $1" >&2; fail=1; }

pages=$(find "$mandir"/man1 "$mandir"/man3 "$mandir"/man7 -type f | sort)
count=$(echo "$pages" | wc -l)
# All pages in one groff run with every warning on (-ww, stricter than
# man --warnings' default of -wmac): one process instead of man's pipeline
# per page.
# shellcheck disable=SC2086
w=$(groff -t -man -ww -z -Tutf8 $pages 2>&1)
if [ -z "$w" ]; then
	ok "$count pages format without a groff warning (groff -ww)"
else
	notok "groff warnings:"
	echo "$w" | sed 's/^/#   /' | tee -a "$tap" >&2
fi
w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$mandir/man1/slabcached.1" \
	"$mandir/man7/slabcache.7" "$mandir/man3/sc_cache_insert.3" 2>&1 >/dev/null)
if [ -z "$w" ]; then
	ok "man --warnings -l renders slabcached.1, slabcache.7, sc_cache_insert.3 cleanly"
else
	notok "man --warnings: $w"
fi
# shellcheck disable=SC2086
unparsed=$(lexgrog $pages 2>&1 | grep -v ': "' || true)
if [ -z "$unparsed" ]; then
	ok "every page has a NAME line whatis understands (lexgrog)"
else
	notok "lexgrog cannot parse: $unparsed"
fi
missing=
for f in $(awk '/global:/ { g = 1; next } /local:/ { g = 0 } g && /;/ { gsub(/[ \t;]/, ""); print }' "$map"); do
	[ -f "$mandir/man3/$f.3" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
	ok "every exported function has a section-3 page"
else
	notok "exported functions without a page:$missing"
fi
if [ -x "$daemon" ]; then
	undocumented=
	for o in $("$daemon" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "\*\*$o\*\*" "$daemon_rst" || undocumented="$undocumented $o"
	done
	if [ -z "$undocumented" ]; then
		ok "slabcached(1) documents every option of slabcached --help"
	else
		notok "slabcached(1) lacks:$undocumented"
	fi
fi
echo "1..$n" >>"$tap"
exit $fail
