#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cache lines that move between two cores, per operation: a model.

This machine's VM exposes no PMU (`perf stat` cannot count coherence
misses), so the cross-core traffic of the shared-cache phases of
sc-bench-cache is estimated here instead, for the design of today and for
the alternatives Documentation/performance.rst weighs ("Why two threads
lose at 1k and 100k entries"). An estimate, not a measurement.

The model. Two cores take turns, one operation each, on uniform keys of a
full cache of N entries of 56 bytes (16-byte keys; the 40-byte header's
layout, which the figures in performance.rst were made with: the tree's
header is 32 bytes since the entries became 48) packed in a slab, with
an index of 8-byte slots at a load of at most 0.6. Each core keeps the
lines it touched (LRU, 16,384 lines: the 1 MiB L2 of this machine); a line
one core writes is dropped from the other. A transfer is counted when a
core reads or writes a line whose last writer is the other core and whose
copy it has not taken since: the event that costs about 100 ns here.
Transfers are counted apart on the lookup path (a dependent load or the
pin's atomic, which the operation waits for) and in drains (stores under
the lock, which prefetching overlaps).

What each operation touches:
- find: its index slot, then bytes 16-56 of its entry (value, refs,
  flags, key); the hit goes to the thread's log;
- get: the same, and the pin and the put write the entry's refs
  (--pins refs), or a slot in the core's own pin set, one line that only
  that core writes (--pins slots, core/pin.h);
- mix: get, and 1 in 20 operations an insert over a key of the N: every
  thread's log drained, the entry (a recycled one) and its index slot
  written, the entry linked first; with slots, the drop of the old entry
  reads both cores' pin sets;
- a hit appends to its thread's log (one line per 8 hits, the same
  lines again after each drain); a drain (a log of --drain hits, 96 by
  default, or an insert) applies every log's hits and reads the other
  thread's log.

Designs of the drain, per applied hit:
- links: today's exact LRU, the entry moved to the head: the links
  (bytes 0-16) of the entry, both its neighbours and the old first entry;
- stamp: one word written in the entry's line (a stamp, ordered later);
- links-side: the same moves as "links", the links in a side array that
  lookups never read (16 bytes per entry);
- stamp-side: one 4-byte word per hit in a side array;
- set: the lazily applied set of core/queue.c: the hit's slot of the
  set's hash read, the set's entry pointer read, its stamp written (three
  arrays that only drains touch; hash and pointers change only when an
  entry first joins);
- none: hits not applied at all (the ceiling of any exact design).

Usage: line-transfers.py [--ops N] [--n 1000,100000] [--pins refs|slots]
                         [--drain HITS] [--own-drain] [--designs LIST]
"""

import argparse
import random
from collections import OrderedDict

ENTRY = 56
LINE = 64
L2_LINES = 16384
SIDE = 1 << 32
SET_HASH = 1 << 33
SET_PTRS = 1 << 34
SET_STAMPS = 1 << 35
INDEX = 1 << 36
HEAD = -1


class Machine:
    """Two cores' private caches and who last wrote each line."""

    def __init__(self):
        self.caches = [OrderedDict(), OrderedDict()]
        self.writer = {}
        self.transfers = {"lookup": 0, "drain": 0}
        self.where = "lookup"

    def touch(self, core, line, write):
        other = 1 - core
        mine = self.caches[core]
        if self.writer.get(line) == other:
            self.transfers[self.where] += 1
            self.writer[line] = None
        if write:
            self.writer[line] = core
            self.caches[other].pop(line, None)
        mine[line] = True
        mine.move_to_end(line)
        if len(mine) > L2_LINES:
            old, _ = mine.popitem(last=False)
            if self.writer.get(old) == core:
                self.writer[old] = None  # written back


def lines(addr, lo, hi):
    return range((addr + lo) // LINE, (addr + hi - 1) // LINE + 1)


def run(n, design, op, nops, seed=1, pins="refs", log_drain=96,
        own_drain=False):
    rnd = random.Random(seed)
    m = Machine()
    addr = [(1 << 20) + i * ENTRY for i in range(n)]
    cap = 1
    while cap * 0.6 < n:
        cap *= 2
    slot = [rnd.randrange(cap) for _ in range(n)]
    order = list(range(n))
    rnd.shuffle(order)
    ring = [HEAD] + order
    nxt = {a: b for a, b in zip(ring, ring[1:] + [HEAD])}
    prev = {b: a for a, b in nxt.items()}
    logs = [[], []]
    in_set = {}
    set_hash = [rnd.randrange(2 * n) for _ in range(n)]

    def links(core, e):
        if e == HEAD:
            return
        if design == "links-side":
            m.touch(core, (SIDE + e * 16) // LINE, True)
        else:
            for ln in lines(addr[e], 0, 16):
                m.touch(core, ln, True)

    def move_first(core, e):
        first = nxt[HEAD]
        if first == e:
            return
        p, q = prev[e], nxt[e]
        for x in (p, q, e, first):
            links(core, x)
        nxt[p], prev[q] = q, p
        nxt[e], prev[first], prev[e], nxt[HEAD] = first, e, HEAD, e

    def drain(core, own=False):
        m.where = "drain"
        for t in (core,) if own else (0, 1):
            for k, e in enumerate(logs[t]):
                if t != core and k % 8 == 0:
                    m.touch(core, ("log", t, k // 8), False)
                if design in ("links", "links-side"):
                    move_first(core, e)
                elif design == "stamp":
                    m.touch(core, addr[e] // LINE, True)
                elif design == "stamp-side":
                    m.touch(core, (SIDE + e * 4) // LINE, True)
                elif design == "set":
                    fresh = e not in in_set
                    m.touch(core, (SET_HASH + set_hash[e] * 4) // LINE, fresh)
                    if fresh:
                        in_set[e] = len(in_set)
                    i = in_set[e]
                    m.touch(core, (SET_PTRS + i * 8) // LINE, fresh)
                    m.touch(core, (SET_STAMPS + i * 4) // LINE, True)
            logs[t] = []
        m.where = "lookup"

    for i in range(nops):
        core = i & 1
        e = rnd.randrange(n)
        m.touch(core, (INDEX + slot[e] * 8) // LINE, False)
        if op == "mix" and rnd.random() < 0.05:
            m.touch(core, ("lock",), True)
            drain(core)
            for ln in lines(addr[e], 0, ENTRY):
                m.touch(core, ln, True)
            m.touch(core, (INDEX + slot[e] * 8) // LINE, True)
            if pins == "slots":
                for t in (0, 1):
                    m.touch(core, ("pins", t), False)
            move_first(core, e)
            continue
        for ln in lines(addr[e], 16, ENTRY):
            m.touch(core, ln, False)
        if op in ("get", "mix") and pins == "slots":
            m.touch(core, ("pins", core), True)  # the put: the same slot
        elif op in ("get", "mix"):
            for ln in lines(addr[e], 32, 36):
                m.touch(core, ln, True)  # the pin; the put hits the same line
        if design != "none":
            # the append: the log's lines are used again after each drain
            m.touch(core, ("log", core, len(logs[core]) // 8), True)
            logs[core].append(e)
            if len(logs[core]) >= log_drain:
                drain(core, own_drain)
    return m.transfers["lookup"] / nops, m.transfers["drain"] / nops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=100000)
    ap.add_argument("--n", default="1000,100000")
    ap.add_argument("--pins", choices=("refs", "slots"), default="refs")
    ap.add_argument("--drain", type=int, default=96,
                    help="hits in a log when its thread drains it")
    ap.add_argument("--own-drain", action="store_true",
                    help="a reader's drain takes its own log only (the "
                    "other's run began later, as when two readers at one "
                    "rate have settled); inserts still drain both")
    ap.add_argument("--designs",
                    default="links,stamp,links-side,stamp-side,set,none")
    args = ap.parse_args()
    print("| N | op | drain design | transfers/op, lookup path | in drains |")
    print("|---|---|---|---|---|")
    for n in (int(x) for x in args.n.split(",")):
        for op in ("find", "get", "mix"):
            for design in args.designs.split(","):
                a, b = run(n, design, op, args.ops, pins=args.pins,
                           log_drain=args.drain, own_drain=args.own_drain)
                print(f"| {n} | {op} | {design} | {a:.2f} | {b:.2f} |")


if __name__ == "__main__":
    main()
