#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A step of the wall clock (settimeofday, an NTP step) moves no relative
time: slabcached's clock, as memcached's, counts CLOCK_MONOTONIC's seconds
from its start. A fresh slabcached and a fresh memcached run with
shim/clockstep.c in LD_PRELOAD, a wall clock the test steps by writing a
file; an item with a relative exptime of 10 s must live through a step of
two hours back and four hours forward, and the clock (stats time, uptime)
must move by the seconds that passed, not by the steps, in both.

Usage: clockstep.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import sdtest

# not in selftests/slabcached/ itself, where a .c file would make a test
# program of the Makefile's
SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim",
                    "clockstep.c")


def stats(port):
    r = sdtest.exchange(port, b"stats\r\n")
    return {ln.split()[1]: int(ln.split()[2]) for ln in r.split(b"\r\n")
            if ln.startswith(b"STAT ") and ln.split()[1] in (b"time",
                                                            b"uptime")}


def main():
    tap = sdtest.Tap()
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        tap.skip("a wall-clock step", f"no C compiler ({cc})")
        return tap.done()
    if not shutil.which("memcached"):
        tap.skip("a wall-clock step", "memcached not installed")
        return tap.done()
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)  # memcached reads the step as user nobody
        so = os.path.join(d, "clockstep.so")
        subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", so, SHIM],
                       check=True)
        step = os.path.join(d, "step")
        with open(step, "w") as f:
            f.write("7200\n")
        env = dict(os.environ, LD_PRELOAD=so, CLOCKSTEP_FILE=step)
        # the shim is not ASan's runtime, loaded first
        env["ASAN_OPTIONS"] = ":".join(
            filter(None, [os.environ.get("ASAN_OPTIONS"),
                          "verify_asan_link_order=0"]))
        ours = sdtest.Server.slabcached("-t", "2", "--pressure=off", env=env)
        theirs = sdtest.Server.memcached("-t", "2", env=env)
        try:
            daemons = (("slabcached", ours), ("memcached", theirs))
            start = {}
            for name, s in daemons:
                st = stats(s.port)
                start[name] = st
                tap.ok(abs(st[b"time"] - (time.time() + 7200)) < 5,
                       f"{name}: runs on the stepped wall clock (+2 h)",
                       f"stats time {st[b'time']}, real {time.time():.0f}")
                r = sdtest.exchange(s.port, b"set k 0 10 1\r\nx\r\n")
                tap.ok(r == b"STORED\r\n", f"{name}: set, exptime 10", r)
            for offset, what in ((0, "two hours back"),
                                 (14400, "four hours forward")):
                with open(step, "w") as f:
                    f.write(f"{offset}\n")
                time.sleep(1.3)  # a tick or two of both clocks
                replies = {}
                for name, s in daemons:
                    replies[name] = sdtest.exchange(s.port, b"get k\r\n")
                    tap.ok(replies[name] == b"VALUE k 0 1\r\nx\r\nEND\r\n",
                           f"{name}: after {what}, the item is still there",
                           replies[name])
                    st = stats(s.port)
                    moved = st[b"time"] - start[name][b"time"]
                    up = st[b"uptime"] - start[name][b"uptime"]
                    tap.ok(0 <= moved <= 10 and moved == up,
                           f"{name}: after {what}, stats time and uptime "
                           "moved by the seconds that passed",
                           f"time moved {moved} s, uptime {up} s")
                tap.ok(replies["slabcached"] == replies["memcached"],
                       f"after {what}: same reply as memcached",
                       repr(replies))
        finally:
            rc = ours.stop()
            theirs.stop()
        tap.ok(rc == 0, "slabcached exits cleanly (status 0)", f"status {rc}")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
