#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Replay request streams through the policy models, get-or-insert at
cost 1, and print one line per (stream, policy, size):

    <stream> <policy> <entries> <requests> <misses> <evictions> <digest>

<digest> is FNV-1a 64 (hex) over the hit bits of the replay, one bit per
request (1: hit), packed 8 to a byte, first request in bit 0. A C replay of
the same stream through the cache (string keys "o<id>", the cache's hash
seed set to --seed) must print the same line for W-TinyLFU.

Sizes: --sizes 1000,2000 (entries) or 1%,5% (of the stream's distinct
objects; of the 100,000-key space for the Zipf streams; of the key
space's total cost for a stream with costs, whose lines add the byte hit
ratio).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import models  # noqa: E402
import streams  # noqa: E402

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def digest(bits):
    h = FNV_OFFSET
    for b in bits:
        h = ((h ^ b) * FNV_PRIME) & models.M64
    return h


def policy_of(name, limit, seed, opts):
    cls = models.POLICIES[name]
    if cls is models.WTinyLFU:
        return cls(limit, seed=seed, **opts.get("wtinylfu", {}))
    if cls is models.S3FIFO:
        return cls(limit, **opts.get("s3fifo", {}))
    return cls(limit)


def hashes_for(stream, seed):
    """The policy hash of every object's key "o<id>"."""
    kh = models.key_hash
    return [kh(seed, b"o%d" % i) for i in range(stream.nr_objects)]


def replay(stream, name, limit, seed=0, opts=None, hashes=None):
    """Replay @stream; return (model, misses, hits, digest, byte hits)."""
    m = policy_of(name, limit, seed, opts or {})
    req = stream.req
    bits = bytearray((len(req) + 7) // 8)
    access = m.access
    costs = stream.costs
    byte_hits = 0
    if isinstance(m, (models.WTinyLFU, models.S3FIFO)):
        hs = hashes if hashes is not None else hashes_for(stream, seed)
    else:
        hs = None
    for i, k in enumerate(req):
        c = costs[k] if costs else 1
        if access(k, c, hs[k] if hs else 0):
            bits[i >> 3] |= 1 << (i & 7)
            byte_hits += c
    return m, m.misses, m.hits, digest(bits), byte_hits


def sizes_of(stream, spec):
    base = stream.nr_objects
    if stream.name.startswith("zipf"):
        base = streams.ZIPF_ITEMS
    if stream.costs:
        base = sum(stream.costs)
    out = []
    for s in spec.split(","):
        s = s.strip()
        if s.endswith("%"):
            out.append(max(1, round(base * float(s[:-1]) / 100)))
        else:
            out.append(int(s))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--stream", default="cloudphysics",
                    help="one of: " + ", ".join(streams.STREAMS))
    ap.add_argument("--policy", default="wtinylfu",
                    help="comma-separated: " + ", ".join(models.POLICIES))
    ap.add_argument("--sizes", default="1%,5%,10%,30%")
    ap.add_argument("--requests", type=int, default=None,
                    help="replay only the first N requests of a trace")
    ap.add_argument("--seed", type=lambda s: int(s, 0), default=0,
                    help="the cache's hash seed (W-TinyLFU's sketch)")
    ap.add_argument("--wtinylfu", default="",
                    help="model options, e.g. cpe=16,dkbits=0,adaptive=0")
    ap.add_argument("--s3fifo", default="", help="e.g. move_threshold=2")
    ap.add_argument("--time", action="store_true", help="time each replay")
    a = ap.parse_args(argv)

    def kv(s):
        out = {}
        for k, v in (x.split("=") for x in s.split(",") if x):
            out[k] = int(v) if v.lstrip("-").isdigit() else v
        return out
    opts = {"wtinylfu": kv(a.wtinylfu), "s3fifo": kv(a.s3fifo)}
    try:
        st = streams.STREAMS[a.stream](a.requests)
    except streams.Skip as e:
        print("# SKIP %s" % e)
        return 0
    hashes = None
    for pol in a.policy.split(","):
        for n in sizes_of(st, a.sizes):
            if pol in ("wtinylfu", "s3fifo") and hashes is None:
                hashes = hashes_for(st, a.seed)
            t = time.time()
            m, misses, hits, d, byte_hits = replay(st, pol, n, a.seed, opts,
                                                   hashes)
            line = "%s %s %d %d %d %d %016x" % (
                st.name, pol, n, len(st.req), misses, m.evictions, d)
            if st.costs:
                line += " byte-hit-ratio %.4f" % (
                    byte_hits / sum(st.costs[k] for k in st.req))
            if st.nr_scan:
                line += " zipf-hit-ratio %.4f" % (
                    hits / (len(st.req) - st.nr_scan))
            if a.time:
                line += " # %.1fs" % (time.time() - t)
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
