#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 12
"""slabcached --policy: the option and its errors, "stats settings", an
item that --policy=s3fifo turns away (answered STORED, counted in
admission_rejects, kept the second time), and the Zipf 0.99 replay of
tools/bench/policy-bench.py, short: s3fifo's hit ratio must be above
lru's at the same -m (deterministic enough: one connection, no pressure,
and a margin of several points)."""

import os
import subprocess
import sys

import sdtest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "bench"))


def option_checks(tap):
    r = subprocess.run([sdtest.daemon_path(), "--policy=mru"],
                       capture_output=True, text=True, timeout=10)
    tap.ok(r.returncode == 2 and
           "bad value 'mru' for --policy" in r.stderr,
           "--policy=mru: a clear error, exit status 2",
           (r.returncode, r.stderr))
    r = subprocess.run([sdtest.daemon_path(), "--help"],
                       capture_output=True, text=True, timeout=10)
    tap.ok("--policy=<name>" in r.stdout, "--help lists --policy")
    for p in ("lru", "sieve", "s3fifo"):
        srv = sdtest.Server.slabcached("--policy", p)
        try:
            st = sdtest.stats(srv.port, b"settings")
            tap.ok(st.get("policy") == p, f"stats settings: policy {p}",
                   st.get("policy"))
        finally:
            tap.ok(srv.stop() == 0, f"--policy {p}: clean exit")
    srv = sdtest.Server.slabcached()
    try:
        st = sdtest.stats(srv.port, b"settings")
        tap.ok(st.get("policy") == "lru", "the default is lru")
    finally:
        srv.stop()


def admission_checks(tap):
    from pymemcache.client.base import Client

    # -I 2m above a tenth of -m 8: a first-time 1 MiB item can be refused
    srv = sdtest.Server.slabcached("-m", "8", "-I", "2m", "--policy",
                                   "s3fifo")
    try:
        c = Client(("127.0.0.1", srv.port), connect_timeout=5, timeout=10)
        small = b"s" * 50000
        for i in range(100):  # past half of -m: the policy has its ghost
            c.set(f"small{i}", small, noreply=False)
        big = b"B" * (1 << 20)
        tap.ok(c.set("big", big, noreply=False) is True,
               "a refused item is answered STORED")
        st = sdtest.stats(srv.port, b"slabcached")
        tap.ok(st.get("admission_rejects") == "1",
               "counted in admission_rejects", st.get("admission_rejects"))
        tap.ok(c.get("big") is None, "and not kept")
        tap.ok(c.set("big", big, noreply=False) is True, "asked again")
        tap.ok(c.get("big") == big, "kept the second time")
        tap.ok(c.add("big2", big, noreply=False) is True,
               "add of a new large key: STORED")
        st = sdtest.stats(srv.port, b"slabcached")
        tap.ok(c.get("big2") is None and
               st.get("admission_rejects") == "2", "refused too")
        tap.ok(c.set("big", b"x" * 900000, noreply=False) is True and
               c.get("big") == b"x" * 900000,
               "an update of a kept item is never refused")
        c.close()
    finally:
        tap.ok(srv.stop() == 0, "clean exit")


def replay_check(tap):
    import contextlib
    import importlib
    import io

    pb = importlib.import_module("policy-bench")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = pb.main(["--daemon", sdtest.daemon_path(), "--memory", "4",
                      "--requests", "100000", "--policies", "lru,s3fifo",
                      "--check"])
    tap.diag(out.getvalue())
    tap.ok(rc == 0, "Zipf 0.99 at -m 4: s3fifo's hit ratio above lru's")


def main():
    tap = sdtest.Tap()
    option_checks(tap)
    try:
        import pymemcache  # noqa: F401
    except ImportError:
        tap.skip("admission and replay", "pymemcache not installed")
        return tap.done()
    admission_checks(tap)
    replay_check(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
