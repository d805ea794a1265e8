#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Report the line and branch coverage that a --coverage build gathered
# (make coverage): totals for alloc/, core/ and tools/slabcached/ against
# the targets, then, per directory, the functions with lines or branches
# never taken. gcovr's JSON goes to <objtree>/coverage.json and its HTML
# pages to <objtree>/coverage-html/.
#
# Usage: scripts/coverage.sh <srctree> <objtree>
set -eu
srctree=$1
objtree=$2
json=$objtree/coverage.json
html=$objtree/coverage-html
mkdir -p "$html"

# Branches that gcc adds but no source can reach (unwinding) are left out.
gcovr --root "$srctree" --filter "$srctree/alloc/" --filter "$srctree/core/" \
	--filter "$srctree/tools/slabcached/" --exclude-unreachable-branches \
	--exclude-throw-branches --json "$json" --json-pretty \
	--html-details "$html/index.html" "$objtree" >/dev/null

python3 - "$json" <<'PY'
import json, sys
from collections import defaultdict

data = json.load(open(sys.argv[1]))
# (directory, line %, branch %) targets
targets = {"alloc": (95, 85), "core": (95, 85), "tools/slabcached": (90, None)}
tot = defaultdict(lambda: [0, 0, 0, 0])  # lines hit, lines, branches hit, branches
gaps = defaultdict(list)
for f in data["files"]:
    name = f["file"]
    d = "tools/slabcached" if name.startswith("tools/slabcached/") else name.split("/")[0]
    funcs = sorted((fn["lineno"], fn["name"]) for fn in f.get("functions", []))
    per = defaultdict(lambda: [0, 0, 0, 0, []])

    def func_of(line):
        best = "?"
        for start, fname in funcs:
            if start <= line:
                best = fname
            else:
                break
        return best

    for ln in f["lines"]:
        if ln.get("gcovr/noncode"):
            continue
        t = tot[d]
        p = per[func_of(ln["line_number"])]
        t[1] += 1
        p[1] += 1
        if ln["count"]:
            t[0] += 1
            p[0] += 1
        else:
            p[4].append(ln["line_number"])
        for b in ln.get("branches", []):
            t[3] += 1
            p[3] += 1
            if b["count"]:
                t[2] += 1
                p[2] += 1
    for fname, (lh, l, bh, b, missed) in per.items():
        if lh < l or bh < b:
            gaps[d].append((l - lh, b - bh, f"{name}:{fname}", missed))

def pct(a, b):
    return 100.0 * a / b if b else 100.0

fail = False
print("coverage (make check's tests, gcovr; branches without unreachable ones):")
print(f"  {'directory':<18} {'lines':>17} {'branches':>17}  target")
for d, (lt, bt) in targets.items():
    lh, l, bh, b = tot[d]
    ok = pct(lh, l) >= lt and (bt is None or pct(bh, b) >= bt)
    fail |= not ok
    tgt = f">= {lt} % lines" + (f", {bt} % branches" if bt else "")
    print(f"  {d + '/':<18} {pct(lh, l):6.2f} % {lh:4}/{l:<4} "
          f"{pct(bh, b):6.2f} % {bh:4}/{b:<4}  {tgt}: {'met' if ok else 'NOT met'}")
for d in targets:
    print(f"\ngaps in {d}/ (lines missed, branches missed, file:function, first lines missed):")
    for lm, bm, where, missed in sorted(gaps[d], key=lambda g: (-g[0], -g[1])):
        lines = ",".join(str(x) for x in missed[:8]) + (",..." if len(missed) > 8 else "")
        print(f"  {lm:4} {bm:4}  {where}  {lines}")
PY
echo "details: $html/index.html"
