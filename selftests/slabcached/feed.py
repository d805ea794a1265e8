#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 2
"""The connection without its socket: every conformance case (text, meta
and binary) goes through sd-feed, which drives slabcached's connections
from byte strings with sd_conn_feed(), once in one piece and once a byte
at a time; the replies must be those the daemon gives over a socket.

A line other than get/gets past 2 KiB is parsed only if it came in one
read, so the cases of such lines are left out of the byte-at-a-time pass.

Usage: feed.py
"""

import os
import subprocess
import sys

import conformance as cf
import sdtest

# over-long non-get lines: judged per read, so bytewise differs by design
ONE_READ_ONLY = {"a 5000-byte line", "a 16000-byte line",
                 "a 17000-byte line closes",
                 "a gat line past 2048 bytes closes, as in memcached"}


def records(cases):
    """The connections of @cases, as conformance.run_all() opens them."""
    out = []
    for name, data in cases:
        binary = any(name == n for n, _ in cf.BIN_CASES)
        chunks = data if isinstance(data, list) else [data]
        for d in chunks:
            if binary:
                out.append((name, d + cf.BIN_NOOP_SYNC, "bin"))
            elif b"quit\r\n" in d and not isinstance(data, list):
                out.append((name, d, "none"))
            else:
                out.append((name, d + sdtest.SENTINEL, "text"))
    return out


def strip(reply, kind):
    if kind == "text" and reply.endswith(sdtest.SENTINEL_REPLY):
        return reply[:-len(sdtest.SENTINEL_REPLY)]
    if kind == "bin" and reply.endswith(cf.BIN_NOOP_REPLY):
        return reply[:-len(cf.BIN_NOOP_REPLY)]
    return reply


def feed(recs, bytewise):
    exe = os.path.join(sdtest.objtree(), "tools", "slabcached", "feed",
                       "sd-feed")
    data = b"".join(b"%d\n%s" % (len(d), d) for _, d, _ in recs)
    p = subprocess.run([exe] + (["-1"] if bytewise else []), input=data,
                       capture_output=True, timeout=600)
    out, pos, replies = p.stdout, 0, []
    while pos < len(out):
        nl = out.index(b"\n", pos)
        n = int(out[pos:nl])
        replies.append(out[nl + 1:nl + 1 + n])
        pos = nl + 1 + n
    return p.returncode, replies


def over_socket(recs):
    srv = sdtest.Server.slabcached("-t", "2", "--pressure=off")
    try:
        replies = []
        for name, d, kind in recs:
            if kind == "bin":
                replies.append(cf.bin_exchange(srv.port, d[:-len(
                    cf.BIN_NOOP_SYNC)]))
            elif kind == "none":
                replies.append(sdtest.exchange(srv.port, d,
                                               sentinel=False))
            else:
                replies.append(sdtest.exchange(srv.port, d[:-len(
                    sdtest.SENTINEL)]))
        return replies
    finally:
        srv.stop()


def main():
    tap = sdtest.Tap()
    exe = os.path.join(sdtest.objtree(), "tools", "slabcached", "feed",
                       "sd-feed")
    if not os.access(exe, os.X_OK):
        sdtest.die(f"no {exe}")
    cases = [(n, d) for n, d in cf.ALL_CASES]
    recs = records(cases)
    for bytewise in (False, True):
        mode = "a byte at a time" if bytewise else "in one piece"
        use = [i for i, (n, _, _) in enumerate(recs)
               if not (bytewise and n in ONE_READ_ONLY)]
        # the same connections over a socket, on a fresh daemon
        want = dict(zip(use, over_socket([recs[i] for i in use])))
        rc, got = feed([recs[i] for i in use], bytewise)
        tap.ok(rc == 0 and len(got) == len(use),
               f"sd-feed {mode}: every connection answered",
               (rc, len(got), len(use)))
        bad = []
        for k, i in enumerate(use):
            name, _, kind = recs[i]
            g = strip(got[k], kind) if k < len(got) else b"<missing>"
            if g != want[i]:
                bad.append((name, g[:200], want[i][:200]))
        tap.ok(not bad, f"sd-feed {mode}: the socket's replies, byte for "
               f"byte, in {len(use)} connections",
               "\n".join(f"{n}:\n  feed:   {g!r}\n  socket: {w!r}"
                         for n, g, w in bad[:5]))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
