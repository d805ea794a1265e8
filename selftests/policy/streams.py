# SPDX-License-Identifier: LGPL-2.1-or-later
"""Request streams for the policy models: the traces of selftests/traces
(see its README) and the Zipf streams of selftests/cache/hitratio.c, with
the same generator and seed so that both replay the same requests.

A stream is a list of dense object ids (first seen first), its number of
distinct objects, and the number of requests that are one-time scan keys
(counted out of the scan-resistance hit ratio)."""

import math
import os
import shutil
import subprocess

M64 = (1 << 64) - 1
ZIPF_SEED = 0x5EED5EED5EED
ZIPF_ITEMS = 100000
ZIPF_REQUESTS = 1000000


class Stream:
    def __init__(self, name, req, nr_objects, nr_scan=0, scan=None,
                 costs=None):
        self.costs = costs  # cost of each object, or None: all 1
        self.name = name
        self.req = req
        self.nr_objects = nr_objects
        self.nr_scan = nr_scan
        self.scan = scan  # bytearray: 1 for a scan request, or None


class Skip(Exception):
    """A stream that cannot be read here (missing trace or zstd)."""


def traces_dir():
    env = os.environ.get("SC_TRACES")
    if env:
        return env
    src = os.environ.get("SC_SRCTREE")
    if not src:
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..")
    return os.path.join(src, "selftests", "traces")


def zipf(theta, items=ZIPF_ITEMS, n=ZIPF_REQUESTS, seed=ZIPF_SEED):
    """YCSB's ZipfianGenerator with xorshift64*, as hitratio.c does it:
    the same floating-point operations in the same order."""
    zetan = 0.0
    for i in range(1, items + 1):
        zetan += 1 / math.pow(i, theta)
    zeta2 = 1 + math.pow(0.5, theta)
    alpha = 1 / (1 - theta)
    eta = (1 - math.pow(2.0 / items, 1 - theta)) / (1 - zeta2 / zetan)
    x = seed
    out = [0] * n
    pw = math.pow
    for r in range(n):
        x ^= x >> 12
        x ^= (x << 25) & M64
        x ^= x >> 27
        u = (((x * 0x2545F4914F6CDD1D) & M64) >> 11) * (1.0 / (1 << 53))
        uz = u * zetan
        if uz < 1:
            i = 0
        elif uz < zeta2:
            i = 1
        else:
            i = int(items * pw(eta * u - eta + 1, alpha))
        if i >= items:
            i = items - 1
        out[r] = i
    return out


def zipf_stream(theta, n=ZIPF_REQUESTS):
    return Stream("zipf%g" % theta, zipf(theta, n=n), ZIPF_ITEMS)


def scan_stream(theta=0.99, block=100000, scan=50000, n=ZIPF_REQUESTS):
    """The Zipf stream with a one-time scan of @scan keys never seen before
    after each of its first n/block - 1 blocks of @block requests."""
    z = zipf(theta, n=n)
    req, flags = [], bytearray()
    fresh = ZIPF_ITEMS
    for b in range(0, n, block):
        req.extend(z[b:b + block])
        flags.extend(b"\0" * len(z[b:b + block]))
        if b + block < n:
            req.extend(range(fresh, fresh + scan))
            flags.extend(b"\1" * scan)
            fresh += scan
    return Stream("zipf%g+scans" % theta, req, fresh, nr_scan=sum(flags),
                  scan=flags)


def _lines(path):
    if path.endswith(".zst"):
        if not shutil.which("zstd"):
            raise Skip("zstd not installed: cannot read %s" % path)
        p = subprocess.Popen(["zstd", "-dc", "--", path],
                             stdout=subprocess.PIPE)
        done = False
        try:
            for line in p.stdout:
                yield line
            done = True
        finally:
            if not done:  # the reader stopped early
                p.kill()
            p.stdout.close()
            if p.wait() != 0 and done:
                raise RuntimeError("zstd -dc %s failed" % path)
    else:
        with open(path, "rb") as f:
            yield from f


def trace_stream(fname, limit=None):
    """A trace by file name: ARC format ("start count 0 seq") for .lis,
    one id per line otherwise. @limit: only the first @limit requests."""
    path = os.path.join(traces_dir(), fname)
    if not os.access(path, os.R_OK):
        raise Skip("trace not found (%s)" % path)
    arc = ".lis" in fname
    ids, req = {}, []
    lines = _lines(path)
    for line in lines:
        parts = line.split()
        try:
            start = int(parts[0])
            count = int(parts[1]) if arc else 1
        except (IndexError, ValueError):
            continue
        for p in range(start, start + count):
            i = ids.get(p)
            if i is None:
                i = ids[p] = len(ids)
            req.append(i)
            if limit and len(req) >= limit:
                break
        if limit and len(req) >= limit:
            break
    lines.close()
    if not req:
        raise RuntimeError("%s: no requests" % path)
    name = fname.split(".")[0]
    return Stream(name, req, len(ids))


def weighted_zipf_stream(theta=0.99):
    """The Zipf stream with a cost per key, uniform in 1..100 from the
    key's id (murmur3's finalizer of id + 1): for hit ratio per byte."""
    st = zipf_stream(theta)
    costs = []
    for i in range(ZIPF_ITEMS):
        k = i + 1
        k ^= k >> 33
        k = (k * 0xFF51AFD7ED558CCD) & M64
        k ^= k >> 33
        k = (k * 0xC4CEB9FE1A85EC53) & M64
        k ^= k >> 33
        costs.append(1 + k % 100)
    st.name = "zipf%g-costs" % theta
    st.costs = costs
    return st


STREAMS = {
    "oltp": lambda n=None: trace_stream("OLTP.lis.zst", n),
    "p3": lambda n=None: trace_stream("P3.lis.zst", n),
    "cloudphysics": lambda n=None: trace_stream("cloudPhysicsIO.txt", n),
    "zipf0.8": lambda n=None: zipf_stream(0.8, n or ZIPF_REQUESTS),
    "zipf0.99": lambda n=None: zipf_stream(0.99, n or ZIPF_REQUESTS),
    "zipf0.99+scans": lambda n=None: scan_stream(),
    "zipf0.99-costs": lambda n=None: weighted_zipf_stream(0.99),
}
