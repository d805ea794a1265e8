#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real memory pressure: the daemon in a cgroup v1 memory cgroup with a
limit, filled near -m, then a memory hog in the same cgroup. slabcached
must shed (its pressure sources: v1 levels and usage thresholds), its RSS
must fall, nothing may be OOM-killed, and it keeps serving. Then Debian's
memcached the same way; what happens to it is reported, not asserted.

Needs root and the cgroup v1 memory controller, else skips with the reason.
Every cgroup made here is removed at exit.

Usage: cgroup.py
"""

import os
import subprocess
import sys
import threading
import time

import sdtest

V1 = "/sys/fs/cgroup/memory"
LIMIT_MIB = 160
FILL_MIB = 96          # -m
HOG_MIB = 80           # FILL + HOG is well past LIMIT
VALUE = os.urandom(10000)

HOG = r"""
import sys, time
bufs = []
for i in range(int(sys.argv[1])):
    bufs.append(bytearray(b"\x01" * (1 << 20)))  # touched, not just mapped
    time.sleep(0.01)
time.sleep(0.5)
print("hog done", flush=True)
"""


def own_cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrls.split(","):
                return "" if path == "/" else path
    return None


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, v = line.split()
            out[k] = int(v)
    return out


class Cgroup:
    def __init__(self, name):
        self.path = os.path.join(V1 + own_cgroup(), name)
        os.mkdir(self.path)
        with open(os.path.join(self.path, "memory.limit_in_bytes"), "w") as f:
            f.write(str(LIMIT_MIB << 20))

    def enter(self):
        """preexec_fn: move the child into this cgroup."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def oom_kills(self):
        return read_kv(os.path.join(self.path, "memory.oom_control")).get(
            "oom_kill", 0)

    def max_usage(self):
        with open(os.path.join(self.path, "memory.max_usage_in_bytes")) as f:
            return int(f.read())

    def remove(self):
        procs = os.path.join(self.path, "cgroup.procs")
        sdtest.wait_for(lambda: not open(procs).read().strip(), 10)
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def fill(c, mib):
    n = (mib << 20) // len(VALUE)
    for i in range(n):
        c.send(b"set k%d 0 0 %d noreply\r\n%s\r\n" % (i, len(VALUE), VALUE))
    return c.stats()


class RssSampler:
    """RSS of one process every STEP seconds while the hog runs."""
    STEP = 0.1

    def __init__(self, name, pid):
        self.name, self.pid, self.samples = name, pid, []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0  # gone: killed

    def _run(self):
        t0 = time.monotonic()
        while not self.stop_ev.is_set():
            self.samples.append((time.monotonic() - t0, self._rss()))
            self.stop_ev.wait(self.STEP)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thread.join()

    def report(self, tap):
        """One diagnostic line (MiB every STEP s), and a CSV for plots."""
        tap.diag(f"{self.name} RSS MiB every {int(self.STEP * 1000)} ms "
                 "from the hog's start: " +
                 " ".join(str(kib >> 10) for _, kib in self.samples))
        out = os.environ.get("SC_OBJTREE")
        if out:
            os.makedirs(os.path.join(out, "results"), exist_ok=True)
            path = os.path.join(out, "results",
                                f"slabcached-cgroup-rss-{self.name}.csv")
            with open(path, "w") as f:
                f.write("seconds,rss_kib\n")
                for t, kib in self.samples:
                    f.write(f"{t:.3f},{kib}\n")


def run_hog(cg, name, pid, tap):
    with RssSampler(name, pid) as rss:
        p = subprocess.run([sys.executable, "-c", HOG, str(HOG_MIB)],
                           preexec_fn=cg.enter, capture_output=True,
                           timeout=120)
    rss.report(tap)
    return p.returncode, p.stdout + p.stderr


def slabcached_case(tap):
    cg = Cgroup(f"slabcached_{os.getpid()}")
    srv = None
    try:
        srv = sdtest.Server.slabcached("-m", str(FILL_MIB), "-t", "2",
                                       preexec=cg.enter)
        c = sdtest.Client(srv.port)
        ps = c.stats(b"pressure")
        tap.diag(f"pressure sources in the cgroup: {ps['pressure_sources']}")
        st = fill(c, FILL_MIB)
        rss_full = srv.rss_kib()
        tap.diag(f"filled: {st['curr_items']} items, {st['bytes']} bytes, "
                 f"RSS {rss_full} KiB; hog of {HOG_MIB} MiB next, cgroup "
                 f"limit {LIMIT_MIB} MiB")
        rc, out = run_hog(cg, "slabcached", srv.proc.pid, tap)
        alive = srv.alive()
        tap.ok(alive, "slabcached survived the hog (not OOM-killed)",
               srv.logtext() if not alive else None)
        tap.ok(rc == 0 and b"hog done" in out,
               "the hog in the same cgroup completed", (rc, out[-300:]))
        tap.ok(cg.oom_kills() == 0, "no OOM kill in the cgroup",
               cg.oom_kills())
        if not alive:
            return
        ps = c.stats(b"pressure")
        events = sum(int(ps[f"events_{lv}"]) for lv in
                     ("low", "medium", "critical"))
        tap.ok(events > 0 and int(ps["items_shed"]) > 0,
               "it saw pressure and shed items", ps)
        rss_after = srv.rss_kib()
        tap.ok(rss_after < rss_full, "its RSS fell",
               f"{rss_full} -> {rss_after} KiB")
        tap.diag(f"slabcached: RSS {rss_full} -> {rss_after} KiB, events "
                 f"low/medium/critical {ps['events_low']}/"
                 f"{ps['events_medium']}/{ps['events_critical']}, shed "
                 f"{ps['items_shed']} items, {ps['bytes_shed']} bytes; cgroup "
                 f"max usage {cg.max_usage() >> 20} MiB")
        c.set(b"after", b"still here")
        tap.ok(c.get(b"after") == b"still here", "it keeps serving")
        c.close()
    finally:
        if srv:
            rc = srv.stop()
            tap.ok(rc == 0, "SIGTERM: clean exit status 0", f"status {rc}")
        cg.remove()


def memcached_case(tap):
    cg = Cgroup(f"memcached_{os.getpid()}")
    mc = None
    try:
        mc = sdtest.Server.memcached("-m", str(FILL_MIB), "-t", "2")
        if mc is None:
            tap.skip("memcached under the same hog", "memcached not "
                     "installed")
            return
        # memcached was started outside; move it in before it grows
        with open(os.path.join(cg.path, "cgroup.procs"), "w") as f:
            f.write(str(mc.proc.pid))
        c = sdtest.Client(mc.port)
        st = fill(c, FILL_MIB)
        rss_full = mc.rss_kib()
        rc, out = run_hog(cg, "memcached", mc.proc.pid, tap)
        alive = mc.alive()
        what = (f"memcached under the same hog: "
                f"{'alive' if alive else 'dead (signal %d)' % -mc.proc.returncode}, "
                f"hog exit {rc}, cgroup oom_kill {cg.oom_kills()}, RSS "
                f"{rss_full} -> {mc.rss_kib() if alive else 0} KiB, "
                f"{st['curr_items']} items before")
        tap.diag(what)
        # What memcached does is reported, not judged; what is checked is
        # that the scenario really pressed: the cgroup reached its limit.
        peak = cg.max_usage() >> 20
        tap.ok(peak >= LIMIT_MIB - 8 or cg.oom_kills() > 0,
               "the same hog pushed memcached's cgroup to its limit",
               f"max usage {peak} MiB of {LIMIT_MIB}")
        if alive:
            c.close()
    finally:
        if mc:
            mc.stop()
        cg.remove()


def main():
    tap = sdtest.Tap()
    reason = None
    if os.geteuid() != 0:
        reason = "not root"
    elif not os.path.exists(os.path.join(V1, "cgroup.event_control")):
        reason = "no cgroup v1 memory controller"
    elif own_cgroup() is None:
        reason = "no memory cgroup in /proc/self/cgroup"
    if reason:
        tap.skip("slabcached under cgroup memory pressure", reason)
        return tap.done()
    slabcached_case(tap)
    memcached_case(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
