#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hit ratio when the working set shifts size classes, at -m 64.

A client reads keys at random and stores each miss (get, then set on a
miss: a cache in front of a database). Phase 1: 5,000 keys of 10 KB
(50 MB). Phase 2: a random half of them, still read, and 25,000 new keys
of 1 KB (25 MB and 28 MB): the evictions and replacements of the 10 KB
keys no longer read free slots at random in the 10 KB class's slabs,
stranded there while the half still read keeps them in use. The hit
ratio of phase 2 (its second half, past the warm-up; and the misses of
the whole phase, its first accesses to the new keys included, the same
for every daemon) shows what the
daemon made of those slots: slabcached's limit lowered by them evicts
working-set items; an evicting slab mover evicts the read half's items
on the slabs it empties; a rescuing one copies them. Each daemon is run
ROUNDS times in turn; the median and range are printed.

Usage: daemon-shift.py [--rounds N] [--peer NAME=OBJTREE ...]
(slabcached from $SC_OBJTREE, default build/; memcached from $PATH; each
--peer adds slabcached built in another tree, e.g. ref=build/bench-ref)
"""

import argparse
import os
import random
import socket
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "selftests", "slabcached"))
import sdtest  # noqa: E402

LARGE, NLARGE = 10_000, 5_000
SMALL, NSMALL = 1_000, 25_000
BATCH = 50


def run_phase(c, keys, requests, rng, count_from):
    """get-or-set @requests keys drawn from @keys, BATCH per multi-get.
    Return: the misses of the whole phase, and (hits, gets) counted from
    request @count_from on."""
    hits = gets = misses = 0
    for start in range(0, requests, BATCH):
        batch = [rng.choice(keys) for _ in range(BATCH)]
        c.send(b"get " + b" ".join(k for k, _ in batch) + b"\r\n")
        found = set()
        while True:
            line = c.readline()
            if line == b"END":
                break
            parts = line.split()
            c.read(int(parts[3]) + 2)
            found.add(parts[1])
        sets = [b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, n, b"v" * n)
                for k, n in dict(batch).items() if k not in found]
        if sets:
            c.send(b"".join(sets))
        misses += sum(1 for k, _ in batch if k not in found)
        if start >= count_from:
            gets += len(batch)
            hits += sum(1 for k, _ in batch if k in found)
    return misses, hits, gets


def one(srv):
    rng = random.Random(11)
    large = [(b"L%d" % i, LARGE) for i in range(NLARGE)]
    small = [(b"S%d" % i, SMALL) for i in range(NSMALL)]
    kept = rng.sample(large, NLARGE // 2)
    c = sdtest.Client(srv.port, timeout=60)
    # the sets that follow a get are not answered: no Nagle wait after
    c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        run_phase(c, large, 3 * NLARGE, rng, 1 << 62)
        n2 = 24 * (len(kept) + NSMALL)
        misses, hits, gets = run_phase(c, kept + small, n2, rng, n2 // 2)
        st = c.stats()
    finally:
        c.close()
    rss = srv.rss_kib() >> 10
    return (hits / gets, misses, int(st.get("curr_items", 0)),
            int(st.get("bytes", 0)) >> 20, rss,
            int(st.get("slab_reassign_rescues", 0)),
            int(st.get("slab_reassign_evictions_nomem", 0)),
            int(st.get("evictions", 0)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peer", action="append", default=[])
    args = ap.parse_args()
    peers = [("slabcached", lambda: sdtest.Server.slabcached("-m", "64"))]
    for p in args.peer:
        name, tree = p.split("=", 1)
        path = os.path.join(os.path.abspath(tree), "tools", "slabcached",
                            "slabcached")
        peers.append((name, lambda path=path: sdtest.Server(
            [path, "-p", str(port := sdtest.free_port()), "-m", "64"],
            port)))
    peers.append(("memcached", lambda: sdtest.Server.memcached("-m", "64")))
    res = {name: [] for name, _ in peers}
    for r in range(args.rounds):
        for name, start in peers:
            srv = start()
            if srv is None:
                continue
            try:
                res[name].append(one(srv))
            finally:
                srv.stop()
            h, misses, items, mib, rss, resc, ev, evs = res[name][-1]
            print(f"# round {r + 1} {name}: hit ratio {h:.5f}, phase-2 "
                  f"misses {misses}, items "
                  f"{items}, bytes {mib} MiB, VmRSS {rss} MiB, rescued "
                  f"{resc}, mover evicted {ev}, evictions {evs}",
                  flush=True)
    for name, rows in res.items():
        if not rows:
            continue
        hs = [row[0] for row in rows]
        print(f"{name}: second-half hit ratio median "
              f"{statistics.median(hs):.5f} (range {min(hs):.5f} to "
              f"{max(hs):.5f}), phase-2 misses median "
              f"{statistics.median(row[1] for row in rows)} (range "
              f"{min(row[1] for row in rows)} to "
              f"{max(row[1] for row in rows)}), VmRSS median "
              f"{statistics.median(row[4] for row in rows)} MiB, items "
              f"median {statistics.median(row[2] for row in rows)}")


if __name__ == "__main__":
    main()
