#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ABI discipline, as libbpf keeps it (its Makefile's check_abi):
#  - the functions declared SC_API in the public headers, the symbols the
#    version script lists and the symbols the shared library exports are
#    the same set, every one versioned;
#  - abidiff finds no difference between the library and the baseline in
#    abi/ (a struct that changed size or layout, a parameter that changed
#    type, a symbol that went away or moved to another node: every one is
#    reported field by field);
#  - scripts/check-abi-compat.sh: a program built against the 0.1 headers
#    keeps working, and a struct can grow behind a new symbol version.
# Writes TAP to <objtree>/results/abi.tap.
#
# Usage: scripts/check-abi.sh <srctree> <objtree> <libslabcache.so> <map>
#        <baseline.abi> "<cc>"; env ABI_NODE, ABIDW_FLAGS, ABI_HEADERS.
set -u
srctree=$1
objtree=$2
solib=$3
map=$4
baseline=$5
cc=$6
results=$objtree/results
mkdir -p "$results"
tap=$results/abi.tap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
: >"$tap"
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1" >>"$tap"; echo "  PASS    abi: $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2" >>"$tap"; echo "  SKIP    abi: $1: $2"; }
notok() { n=$((n + 1)); echo "not ok $n - $1" >>"$tap"; echo "  FAIL    abi: $1" >&2; fail=1; }
finish() { echo "1..$n" >>"$tap"; exit $fail; }

# 1. What the headers declare: gcc's -aux-info lists every prototype it
# saw with the file that declared it; keep those of include/.
printf '#include <slabcache.h>\n' >"$tmp/all.c"
if $cc -std=gnu11 -fsyntax-only -aux-info "$tmp/aux" -I"$srctree/include" \
	-I"$objtree" "$tmp/all.c" 2>"$tmp/cc.log"; then
	grep "^/\* $srctree/include/" "$tmp/aux" |
		sed -E 's/.*[ *]([A-Za-z_0-9]+) \(.*/\1/' | sort -u >"$tmp/declared"
else
	cat "$tmp/cc.log" >&2
	notok "public headers compile"
	finish
fi
# 2. What the version script lists, node by node.
awk '
/^[A-Za-z_0-9.]+ *\{/ { node = $1; next }
/global:/ { g = 1; next }
/local:/ { g = 0; next }
/^\}/ { g = 0; next }
g && /^[ \t]*[A-Za-z_0-9]+;/ { gsub(/[ \t;]/, ""); print $0 " " node }
' "$map" | sort >"$tmp/listed-nodes"
cut -d' ' -f1 "$tmp/listed-nodes" | sort -u >"$tmp/listed"
# 3. What the library exports, with versions.
nm -D --defined-only "$solib" | awk '$2 != "A" { print $3 }' | sort >"$tmp/exported-ver"
sed 's/@.*//' "$tmp/exported-ver" | sort -u >"$tmp/exported"

if grep -q '\*' "$tmp/listed" || ! grep -q 'global:' "$map"; then
	notok "version script lists symbols by name (no wildcard)"
else
	ok "version script lists $(wc -l <"$tmp/listed") symbols by name, no wildcard"
fi
if cmp -s "$tmp/declared" "$tmp/listed"; then
	ok "every SC_API function is in the version script and nothing else is"
else
	notok "SC_API declarations and $(basename "$map") differ (< headers only, > map only):"
	diff "$tmp/declared" "$tmp/listed" | grep '^[<>]' | sed 's/^/#   /' | tee -a "$tap" >&2
	echo "#   add new functions to libslabcache.map.in under @SC_ABI_NODE@" | tee -a "$tap" >&2
fi
if cmp -s "$tmp/listed" "$tmp/exported"; then
	ok "the library exports exactly the listed symbols"
else
	notok "exported symbols differ from the version script (< map only, > exported only):"
	diff "$tmp/listed" "$tmp/exported" | grep '^[<>]' | sed 's/^/#   /' | tee -a "$tap" >&2
fi
# The Debian symbols file: dh_makeshlibs fails the package build on any
# symbol it does not list, minutes into make check; say so here first.
symfile=$srctree/debian/libslabcache0.symbols
if [ -f "$symfile" ]; then
	awk '/^ / && $1 !~ /^LIBSLABCACHE_/ { print $1 }' "$symfile" | sort -u >"$tmp/debian"
	sed "s/@@/@/" "$tmp/exported-ver" | sort -u >"$tmp/exported-at"
	if cmp -s "$tmp/exported-at" "$tmp/debian"; then
		ok "debian/libslabcache0.symbols lists exactly the exported symbols"
	else
		notok "debian/libslabcache0.symbols and the exports differ (< exported only, > file only):"
		diff "$tmp/exported-at" "$tmp/debian" | grep '^[<>]' | sed 's/^/#   /' | tee -a "$tap" >&2
	fi
fi
unversioned=$(grep -v '@' "$tmp/exported-ver" || true)
if [ -z "$unversioned" ] && grep -q "@@$ABI_NODE\$" "$tmp/exported-ver"; then
	ok "every exported symbol is versioned; new ones default to $ABI_NODE"
else
	notok "unversioned exports, or none in $ABI_NODE: $unversioned"
fi

# 4. abidiff against the committed baseline.
if ! command -v abidiff >/dev/null 2>&1; then
	skip "abidiff against $(basename "$baseline")" "abidiff not installed (Debian abigail-tools)"
elif [ ! -f "$baseline" ]; then
	notok "abidiff: no baseline $baseline; a release writes it with make abi-baseline"
else
	# abidw again with the baseline's flags, then compare the two corpora:
	# both sides then see the same filtering of private types.
	# shellcheck disable=SC2086
	if ! abidw $ABIDW_FLAGS $ABI_HEADERS --out-file "$tmp/current.abi" "$solib" 2>"$tmp/abidw.log"; then
		cat "$tmp/abidw.log" >&2
		notok "abidw $solib"
	else
		abidiff --no-show-locs "$baseline" "$tmp/current.abi" >"$tmp/abidiff.txt" 2>&1
		rc=$?
		# rc bits: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
		if [ $rc -eq 0 ]; then
			ok "abidiff: no ABI change against $(basename "$baseline")"
		else
			notok "abidiff: the ABI differs from $(basename "$baseline") (abidiff status $rc)"
			sed 's/^/#   /' "$tmp/abidiff.txt" | tee -a "$tap" >&2
			{
				echo "#   A released node never changes: a struct passed by pointer grows"
				echo "#   only behind a new symbol version (Documentation/abi.rst). If the"
				echo "#   change is meant (new functions, a new node), run make abi-baseline"
				echo "#   and commit abi/."
			} | tee -a "$tap" >&2
		fi
	fi
fi

# 5. Old binaries keep working; a struct grows behind a new version.
if [ -x "$srctree/scripts/check-abi-compat.sh" ]; then
	"$srctree/scripts/check-abi-compat.sh" "$srctree" "$objtree" "$solib" "$cc" "$tmp" >"$tmp/compat.tap"
	while IFS= read -r line; do
		case "$line" in
		"ok "*"# SKIP"*) d=${line#ok * - }; skip "${d%% # SKIP*}" "${d#*# SKIP }" ;;
		"ok "*) ok "${line#ok * - }" ;;
		"not ok "*) notok "${line#not ok * - }" ;;
		"#"*) echo "$line" | tee -a "$tap" >&2 ;;
		esac
	done <"$tmp/compat.tap"
fi
finish
