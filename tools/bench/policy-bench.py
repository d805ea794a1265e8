#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""slabcached's eviction policies through a real memcached client: for
each of --policy lru, sieve and s3fifo, start slabcached on a UNIX socket
at the same -m, replay the Zipf 0.99 stream of selftests/cache/hitratio.c
(YCSB's generator and seed, from selftests/policy/streams.py; 100,000
keys "o<id>") as get-or-set through pymemcache on one connection without
pipelining (the daemon then sees the same sequence every run), and report
the hit ratio: from the client's own count, checked against the daemon's
get_hits and get_misses, over the whole run and over its second half.

One markdown table on stdout (each policy's misses as a ratio of lru's in
the same run), one CSV row per policy with --csv. --check exits 1 unless
s3fifo's hit ratio is above lru's. Requests per second are informative
only: a one-connection Python client is the bottleneck.

    policy-bench.py --daemon build/tools/slabcached/slabcached
        [--memory MiB] [--requests N] [--value-size B] [--csv FILE]
        [--policies lru,sieve,s3fifo] [--check]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "selftests", "policy"))

import streams  # noqa: E402

try:
    from pymemcache.client.base import Client
except ImportError:  # the caller skips
    Client = None


def stats(client):
    """memcached's "stats", and slabcached's own ("stats slabcached":
    admission_rejects)."""
    st = {k.decode(): v for k, v in client.stats().items()}
    st.update({k.decode(): v
               for k, v in client.stats("slabcached").items()})
    return st


def wait_ready(path, proc, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.sendall(b"version\r\n")
            ok = s.recv(64).startswith(b"VERSION")
            s.close()
            if ok:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def run(daemon, policy, memory, req, value_size):
    tmp = tempfile.mkdtemp(prefix="policy-bench-")
    sock = os.path.join(tmp, "sock")
    log = open(os.path.join(tmp, "log"), "w+")
    proc = subprocess.Popen([daemon, "-s", sock, "-m", str(memory),
                             "--policy", policy], stdout=log, stderr=log)
    try:
        if not wait_ready(sock, proc, time.monotonic() + 10):
            log.seek(0)
            raise RuntimeError("slabcached --policy %s did not start: %s"
                               % (policy, log.read()[-2000:]))
        c = Client(sock, no_delay=True)
        value = b"v" * value_size
        keys = [b"o%d" % i for i in range(streams.ZIPF_ITEMS)]
        half = len(req) // 2
        hits = warm_hits = 0
        t0 = time.monotonic()
        for i, k in enumerate(req):
            key = keys[k]
            if c.get(key) is not None:
                hits += 1
                warm_hits += i >= half
            else:
                c.set(key, value, noreply=False)
        secs = time.monotonic() - t0
        st = stats(c)
        c.close()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    if int(st["get_hits"]) != hits or \
            int(st["get_misses"]) != len(req) - hits:
        raise RuntimeError("%s: the daemon counts %s hits and %s misses, "
                           "the client %d and %d" %
                           (policy, st["get_hits"], st["get_misses"], hits,
                            len(req) - hits))
    return {
        "policy": policy, "requests": len(req), "hits": hits,
        "hit_ratio": hits / len(req),
        "warm_hit_ratio": warm_hits / (len(req) - half),
        "evictions": int(st.get("evictions", 0)),
        "admission_rejects": int(st.get("admission_rejects", 0)),
        "curr_items": int(st.get("curr_items", 0)),
        "rps": 2 * len(req) / secs if secs else 0,  # gets + sets, about
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--memory", type=int, default=16, help="-m, MiB")
    ap.add_argument("--requests", type=int, default=streams.ZIPF_REQUESTS)
    ap.add_argument("--value-size", type=int, default=1000)
    ap.add_argument("--policies", default="lru,sieve,s3fifo")
    ap.add_argument("--csv")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless s3fifo's hit ratio beats lru's")
    a = ap.parse_args(argv)
    if Client is None:
        print("policy-bench.py: pymemcache not installed", file=sys.stderr)
        return 77
    req = streams.zipf(0.99, n=a.requests)
    rows = [run(a.daemon, p, a.memory, req, a.value_size)
            for p in a.policies.split(",")]
    lru = next((r for r in rows if r["policy"] == "lru"), None)
    print("## slabcached: Zipf 0.99 get-or-set through pymemcache\n")
    print("%d requests over %d keys, %d-byte values, -m %d, one "
          "connection.\n" % (a.requests, streams.ZIPF_ITEMS, a.value_size,
                             a.memory))
    print("| policy | hit ratio | second half | misses / lru's | items "
          "held | evictions | admission rejects | req/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = ((r["requests"] - r["hits"]) / (lru["requests"] - lru["hits"])
                 if lru and lru["requests"] > lru["hits"] else float("nan"))
        print("| %s | %.4f | %.4f | %.3f | %d | %d | %d | %.0f |" % (
            r["policy"], r["hit_ratio"], r["warm_hit_ratio"], ratio,
            r["curr_items"], r["evictions"], r["admission_rejects"],
            r["rps"]))
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("policy,requests,memory_mib,value_size,hits,hit_ratio,"
                    "warm_hit_ratio,curr_items,evictions,admission_rejects,"
                    "rps\n")
            for r in rows:
                f.write("%s,%d,%d,%d,%d,%.6f,%.6f,%d,%d,%d,%.0f\n" % (
                    r["policy"], r["requests"], a.memory, a.value_size,
                    r["hits"], r["hit_ratio"], r["warm_hit_ratio"],
                    r["curr_items"], r["evictions"], r["admission_rejects"],
                    r["rps"]))
    if a.check:
        s3 = next((r for r in rows if r["policy"] == "s3fifo"), None)
        if not (s3 and lru and s3["hits"] > lru["hits"]):
            print("policy-bench.py: s3fifo's hit ratio is not above lru's",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
