#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check an operation log written by a C test against the S3-FIFO model.

The C model test (random operations on an SC_CACHE_POLICY_S3FIFO cache)
writes one line per operation with what the cache did; this replays the
operations through models.S3FIFO and fails at the first line where the
model would have done something else. Lines (keys are single tokens,
hashes 16 hex digits, evicted keys in eviction order):

    limit <L>                              first line: a new cache
    insert <key> <cost> <hash> = <ret> [evicted...]
    add <handle> <cost> = <ret> [evicted...]
    replace <handle> <cost> = <ret> [evicted...]
    hit <key>                              find/get that found it
    remove <key>
    shrink <nr> = [evicted...]
    set_limit <L> = [evicted...]
    age <idle 0|1> = [evicted...]
    clear
    state <count> <total> <small cost> <main cost>

<ret> is the call's result: 0, 1 (SC_CACHE_NOT_ADMITTED) or -27 (-EFBIG).
Blank lines and lines starting with # are ignored.

    oplog.py LOG     exit 0 and "ok N operations", or 1 and the line
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import models  # noqa: E402


class Mismatch(Exception):
    pass


def _split(rest):
    if "=" not in rest:
        raise Mismatch("no '=' in an operation that returns something")
    i = rest.index("=")
    return rest[:i], rest[i + 1:]


def check(lines):
    m = None
    n = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split()
        op, args = f[0], f[1:]
        try:
            if op == "limit":
                m = models.S3FIFO(int(args[0]))
                continue
            if m is None:
                raise Mismatch("no 'limit' line first")
            n += 1
            if op in ("insert", "add", "replace"):
                left, right = _split(args)
                if op == "insert":
                    key, cost, h = left[0], int(left[1]), int(left[2], 16)
                    got = m.insert(key, cost, h)
                elif op == "add":
                    got = m.add(left[0], int(left[1]))
                else:
                    got = m.replace(left[0], int(left[1]))
                want = (int(right[0]), right[1:])
                if got != want:
                    raise Mismatch("model: %s %s" % got)
            elif op == "hit":
                if args[0] not in m.map:
                    raise Mismatch("model: %s is not cached" % args[0])
                m.hit(args[0])
            elif op == "remove":
                if not m.remove(args[0]):
                    raise Mismatch("model: %s is not cached" % args[0])
            elif op in ("shrink", "set_limit", "age"):
                left, right = _split(args)
                fn = {"shrink": m.shrink, "set_limit": m.set_limit,
                      "age": lambda x: m.age_step(bool(x))}[op]
                got = fn(int(left[0]))
                if got != right:
                    raise Mismatch("model: %s" % " ".join(map(str, got)))
            elif op == "clear":
                m.clear()
            elif op == "state":
                got = [m.count, m.total, m.q[models.SMALL].cost,
                       m.q[models.MAIN].cost]
                if got != [int(x) for x in args]:
                    raise Mismatch("model: state %s" % " ".join(map(str,
                                                                   got)))
            else:
                raise Mismatch("unknown operation %r" % op)
            m.check()
        except (Mismatch, IndexError, ValueError, KeyError) as e:
            return "line %d: %s: %s" % (lineno, line, e), n
    return None, n


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        err, n = check(f)
    if err:
        print(err)
        return 1
    print("ok %d operations" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
