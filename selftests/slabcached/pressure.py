#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Memory: RSS tracks -m; pressure makes the daemon shed and give memory
back, while it keeps serving.

  - -m 32 filled with three times that: item bytes stay under -m and RSS
    near it (memcached's figure under the same load is printed beside);
  - systemd's protocol: $MEMORY_PRESSURE_WATCH naming a FIFO is honoured
    with no flag; a write to it is a MEDIUM event: items are shed and
    counted in "stats pressure";
  - SIGUSR2 (CRITICAL): everything is shed and RSS falls back near its
    start; SIGUSR1 (MEDIUM) through sc_pressure_notify();
  - --pressure=off: signals still shed; $MEMORY_PRESSURE_WATCH=/dev/null
    turns the kernel sources off.

Usage: pressure.py
"""

import os
import signal
import sys
import tempfile

import sdtest

VALUE = os.urandom(10000)
SMALL = os.urandom(1000)


def fill(c, n, prefix=b"k", value=VALUE):
    for i in range(n):
        c.send(b"set %s%d 0 0 %d noreply\r\n%s\r\n" % (prefix, i, len(value),
                                                       value))
    return c.stats()  # a round trip: every set before it is done


def rss_tracks_limit(tap):
    srv = sdtest.Server.slabcached("-m", "32", "--pressure=off")
    try:
        c = sdtest.Client(srv.port)
        st = fill(c, 10000)
        rss = srv.rss_kib()
        limit = 32 << 20
        tap.ok(int(st["bytes"]) <= limit and int(st["evictions"]) > 0,
               "-m 32 filled with 100 MB: item bytes stay under -m, LRU "
               "evicts", st["bytes"])
        san = c.stats(b"settings")["sanitizer"]
        if san != "none":
            tap.skip("-m 32 filled with 100 MB: RSS stays near -m",
                     f"{san} sanitizer build: RSS includes shadow memory")
        else:
            tap.ok(rss * 1024 < limit * 5 // 4 + (8 << 20),
                   "-m 32 filled with 100 MB: RSS stays near -m "
                   "(< 1.25 x -m + 8 MiB)", f"{rss} KiB")
        tap.diag(f"slabcached -m 32 after 100 MB of 10 KB sets: RSS {rss} "
                 f"KiB, {st['curr_items']} items, {st['bytes']} bytes")
        c.close()
    finally:
        tap.ok(srv.stop() == 0, "clean exit")
    mc = sdtest.Server.memcached("-m", "32")
    if mc:
        c = sdtest.Client(mc.port)
        st = fill(c, 10000)
        tap.diag(f"memcached -m 32 after the same: RSS {mc.rss_kib()} KiB, "
                 f"{st['curr_items']} items, {st['bytes']} bytes")
        c.close()
        mc.stop()


def systemd_fifo(tap):
    with tempfile.TemporaryDirectory() as d:
        fifo = os.path.join(d, "pressure.fifo")
        os.mkfifo(fifo)
        env = dict(os.environ, MEMORY_PRESSURE_WATCH=fifo)
        srv = sdtest.Server.slabcached("-m", "64", env=env)
        try:
            c = sdtest.Client(srv.port)
            ps = c.stats(b"pressure")
            tap.ok("systemd" in ps["pressure_sources"].split(","),
                   "$MEMORY_PRESSURE_WATCH (a FIFO) is honoured with no "
                   "flag", ps)
            # MEDIUM asks a shrinker for about 1/32 of its objects (the
            # kernel's freeable >> 6, x 4 / seeks) in batches of 128, so
            # it needs thousands of items to shed any at once
            st = fill(c, 20000, value=SMALL)
            before = int(st["curr_items"])
            rss_full = srv.rss_kib()
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"x")
            os.close(fd)
            # >= : the kernel sources that AUTO opens beside systemd's may
            # add events of their own on a busy machine
            ok = sdtest.wait_for(
                lambda: int(c.stats(b"pressure")["events_medium"]) >= 1)
            ps = c.stats(b"pressure")
            st = c.stats()
            shed = int(ps["items_shed"])
            tap.ok(ok and shed > 0 and
                   int(st["curr_items"]) == before - shed,
                   "a write to the FIFO: MEDIUM event, items shed and "
                   "counted", (ps, st["curr_items"]))
            tap.ok(int(ps["bytes_shed"]) >= shed * len(SMALL) and
                   int(ps["last_event_time"]) > 0 and
                   ps["last_event_level"] in ("medium", "critical"),
                   "stats pressure: bytes shed, last event time and level",
                   ps)
            srv.proc.send_signal(signal.SIGUSR2)
            # counted once the pass (shrinkers, then give-back) is over
            ok = sdtest.wait_for(
                lambda: int(c.stats(b"pressure")["events_critical"]) >= 1)
            st = c.stats()
            tap.ok(ok and st["curr_items"] == "0",
                   "SIGUSR2: a CRITICAL pass sheds every item",
                   (c.stats(b"pressure"), st["curr_items"]))
            rss_after = srv.rss_kib()
            tap.ok(rss_after < rss_full - 12000,
                   "after the CRITICAL pass RSS falls (20 MB of items "
                   "given back)", f"{rss_full} -> {rss_after} KiB")
            tap.diag(f"RSS full {rss_full} KiB, after SIGUSR2 {rss_after} "
                     "KiB")
            c.set(b"again", b"fine")
            tap.ok(c.get(b"again") == b"fine", "keeps serving after "
                   "shedding")
            fill(c, 20000, b"m", SMALL)
            medium = int(c.stats(b"pressure")["events_medium"])
            srv.proc.send_signal(signal.SIGUSR1)
            ok = sdtest.wait_for(
                lambda: int(c.stats(b"pressure")["events_medium"]) > medium)
            tap.ok(ok and int(c.stats()["curr_items"]) < 20001,
                   "SIGUSR1: a MEDIUM pass through sc_pressure_notify()",
                   c.stats(b"pressure"))
            c.close()
        finally:
            tap.ok(srv.stop() == 0, "clean exit")


def off_modes(tap):
    srv = sdtest.Server.slabcached("--pressure=off")
    try:
        c = sdtest.Client(srv.port)
        fill(c, 500)
        srv.proc.send_signal(signal.SIGUSR2)
        ok = sdtest.wait_for(
            lambda: c.stats(b"pressure")["events_critical"] == "1")
        ps = c.stats(b"pressure")
        tap.ok(ok and ps["pressure_sources"] == "off" and
               ps["items_shed"] == "500",
               "--pressure=off: SIGUSR2 still sheds, directly", ps)
        c.close()
    finally:
        tap.ok(srv.stop() == 0, "clean exit")
    env = dict(os.environ, MEMORY_PRESSURE_WATCH="/dev/null")
    srv = sdtest.Server.slabcached(env=env)
    try:
        ps = sdtest.stats(srv.port, b"pressure")
        tap.ok(ps["pressure_sources"] == "none",
               "$MEMORY_PRESSURE_WATCH=/dev/null: no kernel source", ps)
    finally:
        tap.ok(srv.stop() == 0, "clean exit")
    try:
        p = __import__("subprocess").run(
            [sdtest.daemon_path(), "--pressure=bogus"], capture_output=True,
            timeout=10)
        tap.ok(p.returncode != 0 and b"pressure" in p.stderr,
               "--pressure=bogus is refused", p.stderr)
    except Exception as e:
        tap.ok(False, "--pressure=bogus is refused", e)


def modes(tap):
    """--pressure=psi|cgroup|systemd open just their sources, or refuse
    with a message where the kernel or the environment lacks them."""
    want = {"psi": {"psi"},
            "cgroup": {"psi_cgroup", "cgroup_v1", "cgroup_usage"}}
    for mode, allowed in want.items():
        env = dict(os.environ)
        env.pop("MEMORY_PRESSURE_WATCH", None)
        try:
            srv = sdtest.Server.slabcached("--pressure=" + mode, env=env)
        except RuntimeError as e:
            tap.skip(f"--pressure={mode}", f"refused here: {e}")
            continue
        try:
            src = set(sdtest.stats(srv.port, b"pressure")[
                "pressure_sources"].split(","))
            tap.ok(src and src <= allowed,
                   f"--pressure={mode}: only its own sources", src)
        finally:
            tap.ok(srv.stop() == 0, "clean exit")
    env = dict(os.environ)
    env.pop("MEMORY_PRESSURE_WATCH", None)
    p = __import__("subprocess").run(
        [sdtest.daemon_path(), "--pressure=systemd", "-p", "-1"], env=env,
        capture_output=True, timeout=10)
    tap.ok(p.returncode == 1 and b"MEMORY_PRESSURE_WATCH" in p.stderr,
           "--pressure=systemd without $MEMORY_PRESSURE_WATCH: refused, "
           "saying why", (p.returncode, p.stderr))
    with tempfile.TemporaryDirectory() as d:
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        env["MEMORY_PRESSURE_WATCH"] = fifo
        srv = sdtest.Server.slabcached("--pressure=systemd", env=env)
        try:
            src = sdtest.stats(srv.port, b"pressure")["pressure_sources"]
            tap.ok(src == "systemd", "--pressure=systemd: that source only",
                   src)
        finally:
            tap.ok(srv.stop() == 0, "clean exit")


def main():
    tap = sdtest.Tap()
    rss_tracks_limit(tap)
    modes(tap)
    systemd_fifo(tap)
    off_modes(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
