#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Items held at equal resident memory: slabcached against memcached.

Each daemon starts with a limit far above the target (-m 4096: nothing is
evicted), then takes items of one value size, in batches, until its VmRSS
reaches the target; the number of items at exactly the target RSS is
interpolated between the two batches around it. Value sizes 100 B, 1 KB,
10 KB and 1 MB, keys "key:%010d" (14 bytes). A measurement for
Documentation/performance.rst, not a test.

memcached's own count moves by about 1 % from run to run (its hash table
grows in a background thread, so where its RSS is read against that
growth varies): --rounds N runs both daemons N times per size, in turn,
and prints the median and the range of each.

Usage: daemon-capacity.py [--rss-mib N] [--sizes 100,1000,...] [--rounds N]
(the daemon from $SC_OBJTREE, default build/, as the scenarios find it)
"""

import argparse
import os
import socket
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "selftests", "slabcached"))
import sdtest  # noqa: E402


def fill(port, pid, vsize, target_kib):
    """Items held when VmRSS reaches @target_kib (interpolated)."""
    def rss():
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    s = socket.create_connection(("127.0.0.1", port), 30)
    value = b"v" * vsize
    batch = max(1, min(20000, (4 << 20) // (vsize + 40)))
    n = 0
    prev_n, prev_rss = 0, rss()
    while True:
        buf = b"".join(b"set key:%010d 0 0 %d noreply\r\n%s\r\n" %
                       (n + i, vsize, value) for i in range(batch))
        s.sendall(buf + b"version\r\n")
        out = b""
        while not out.endswith(b"\r\n") or b"VERSION" not in out:
            out += s.recv(4096)
        n += batch
        r = rss()
        if r >= target_kib:
            # linear between the last two samples
            frac = (target_kib - prev_rss) / max(1, r - prev_rss)
            s.close()
            return prev_n + frac * (n - prev_n), r
        prev_n, prev_rss = n, r
        if n > 50_000_000:
            s.close()
            return None, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rss-mib", type=int, default=256)
    ap.add_argument("--sizes", default="100,1000,10000,1000000")
    ap.add_argument("--rounds", type=int, default=1)
    opts = ap.parse_args()
    for vsize in [int(x) for x in opts.sizes.split(",")]:
        runs = {"memcached": [], "slabcached": []}
        for _ in range(opts.rounds):
            res = one_round(vsize, opts.rss_mib)
            for kind in runs:
                runs[kind].append(res[kind][0])
            m, s = res["memcached"][0], res["slabcached"][0]
            print(f"{vsize} B: memcached {m:.0f}, slabcached {s:.0f} items "
                  f"at {opts.rss_mib} MiB RSS: {s / m:.3f}x", flush=True)
        if opts.rounds > 1:
            m = statistics.median(runs["memcached"])
            s = statistics.median(runs["slabcached"])
            print(f"{vsize} B, median of {opts.rounds}: memcached {m:.0f} "
                  f"({min(runs['memcached']):.0f}-"
                  f"{max(runs['memcached']):.0f}), slabcached {s:.0f} "
                  f"({min(runs['slabcached']):.0f}-"
                  f"{max(runs['slabcached']):.0f}): {s / m:.3f}x",
                  flush=True)
    return 0


def one_round(vsize, rss_mib):
    """Both daemons, one after the other: {kind: (items, curr_items)}."""
    target = rss_mib * 1024
    res = {}
    for kind in ("memcached", "slabcached"):
        if kind == "memcached":
            srv = sdtest.Server.memcached("-m", "4096", "-t", "2",
                                          "-I", "2m")
            if srv is None:
                sys.exit("memcached not installed")
        else:
            srv = sdtest.Server.slabcached("-m", "4096", "-t", "2",
                                           "-I", "2m", "--pressure=off")
        try:
            items, rss = fill(srv.port, srv.proc.pid, vsize, target)
            st = sdtest.stats(srv.port)
            res[kind] = (items, int(st["curr_items"]))
        finally:
            srv.stop()
    return res


if __name__ == "__main__":
    sys.exit(main())
