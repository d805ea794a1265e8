#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Turn replay.py's lines (files or stdin) into reStructuredText tables of
hit ratios, one per stream: a row per size, a column per policy. A line
with a trailing "zipf-hit-ratio" (the scan stream) reports that figure.
Later lines for the same (stream, policy, size) win.

    report.py results/*.txt > tables.rst
"""

import sys

ORDER = ["lru", "sieve", "arc", "wtinylfu", "s3fifo"]
TITLES = {"lru": "LRU", "sieve": "SIEVE", "arc": "ARC",
          "wtinylfu": "W-TinyLFU", "s3fifo": "S3-FIFO"}


def parse(lines):
    data, streams, n_req = {}, [], {}
    for ln in lines:
        f = ln.split()
        if len(f) < 7 or ln.startswith("#"):
            continue
        stream, pol, size, req, misses = f[0], f[1], int(f[2]), int(f[3]), \
            int(f[4])
        hr = 1 - misses / req
        if "zipf-hit-ratio" in f:
            hr = float(f[f.index("zipf-hit-ratio") + 1])
        if "byte-hit-ratio" in f:
            bs = stream + " bytes"
            if bs not in streams:
                streams.append(bs)
            n_req[bs] = req
            data[(bs, pol, size)] = float(f[f.index("byte-hit-ratio") + 1])
        if stream not in streams:
            streams.insert(len(streams) - (stream + " bytes" in streams),
                           stream)
        n_req[stream] = req
        data[(stream, pol, size)] = hr
    return data, streams, n_req


def table(data, stream, n_req):
    pols = [p for p in ORDER if any(k[0] == stream and k[1] == p
                                    for k in data)]
    sizes = sorted({k[2] for k in data if k[0] == stream})
    head = ["limit" if "-costs" in stream else "entries"] + \
        [TITLES[p] for p in pols]
    rows = []
    for s in sizes:
        row = ["{:,}".format(s)]
        for p in pols:
            v = data.get((stream, p, s))
            row.append("" if v is None else "%.2f" % (100 * v))
        rows.append(row)
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    rule = "  ".join("=" * x for x in w)
    out = ["%s (%s requests), hit ratio %%" % (stream, "{:,}".format(
        n_req[stream])), "", rule,
        "  ".join(h.ljust(w[i]) for i, h in enumerate(head)), rule]
    for r in rows:
        out.append("  ".join(c.rjust(w[i]) if i else c.ljust(w[i])
                             for i, c in enumerate(r)))
    out += [rule, ""]
    return "\n".join(out)


def retention(data, stream, base):
    """Hit ratio under scans as a share of the same stream's without."""
    pols = [p for p in ORDER if any(k[0] == stream and k[1] == p
                                    for k in data)]
    sizes = sorted({k[2] for k in data if k[0] == stream})
    sub = {}
    for p in pols:
        for z in sizes:
            a, b = data.get((stream, p, z)), data.get((base, p, z))
            if a is not None and b:
                sub[(stream + " kept", p, z)] = a / b
    return sub


def main(argv):
    lines = []
    if len(argv) > 1:
        for p in argv[1:]:
            with open(p) as f:
                lines += f.readlines()
    else:
        lines = sys.stdin.readlines()
    data, streams, n_req = parse(lines)
    for s in streams:
        print(table(data, s, n_req))
        if s.endswith("+scans") and s[:-6] in streams:
            kept = retention(data, s, s[:-6])
            n_req[s + " kept"] = n_req[s]
            print(table(kept, s + " kept", n_req).replace(
                "hit ratio %", "hit ratio kept, % of the no-scan one", 1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
