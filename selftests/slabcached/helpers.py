#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A worker kept off the CPU has its connections served by the other.

slabcached -t 2 with the test hook SLABCACHED_TEST_WORKER_NAP_MS=300:
worker 0 sleeps 300 ms before each epoll_wait(), outside its run lock,
as a worker woken but waiting for a CPU would. Two connections keep both
workers busy (connections are dealt out round robin, so one lands on
each); on four more, gets must come back in well under the nap (the
other worker serves them after 250 us), pipelined gets past -R (which
yield to the ready list) must all be answered in order, and
"stats slabcached" must count worker_helps. Without the helper, the
requests of worker 0's connections wait about 300 ms each; with
-o no_worker_help nobody helps.

A helper holds only the connection it serves: with
SLABCACHED_TEST_HELPER_NAP_MS=1500 as well, the helper sleeps 1.5 s
holding one of worker 0's connections, after serving the first -R of its
pipelined gets (a helper preempted in the middle of its pass); worker 0
must answer its other connection meanwhile, the napped connection's gets
must all come back whole and in order once the helper wakes (the owner
having skipped it, it is handed back), and the get counters must count
every get exactly once.

Churn: with -R 5, and worker 0 napping not at all or 1 ms a round, so
that the two workers serve each other's connections and hand them back
all the time, six clients open connections, pipeline gets of random
lengths (and sets), and close them or quit, for 4 s each: every reply
must come, whole and in order, and every connection must be closed at
the end.

Usage: helpers.py
"""

import random
import socket
import statistics
import threading
import time

import sdtest

NAP_MS = 300
HELPER_NAP_MS = 1500


def hammer(port, stop, errors):
    c = sdtest.Client(port)
    try:
        while not stop.is_set():
            if c.get(b"k0") != b"v0":
                errors.append("hammer: wrong value")
                return
    except Exception as e:  # noqa: BLE001 - reported as a failure
        errors.append(f"hammer: {e}")
    finally:
        c.close()


def main():
    tap = sdtest.Tap()
    env = dict(__import__("os").environ,
               SLABCACHED_TEST_WORKER_NAP_MS=str(NAP_MS))
    srv = sdtest.Server.slabcached("-t", "2", "--pressure=off", env=env)
    stop = threading.Event()
    errors = []
    threads = []
    try:
        c = sdtest.Client(srv.port)
        for i in range(50):
            c.set(b"k%d" % i, b"v%d" % i)
        c.close()
        for _ in range(2):
            t = threading.Thread(target=hammer,
                                 args=(srv.port, stop, errors))
            t.start()
            threads.append(t)
        time.sleep(0.5)
        probes = [sdtest.Client(srv.port) for _ in range(4)]
        medians = []
        for p in probes:
            lat = []
            for i in range(20):
                t0 = time.monotonic()
                v = p.get(b"k%d" % (i % 50))
                lat.append(time.monotonic() - t0)
                if v != b"v%d" % (i % 50):
                    errors.append("probe: wrong value")
            medians.append(statistics.median(lat) * 1000)
        tap.ok(max(medians) < NAP_MS / 3,
               f"every connection's median get under {NAP_MS // 3} ms "
               f"with worker 0 napping {NAP_MS} ms a round",
               f"medians (ms): {medians}")
        want = b"".join(b"VALUE k%d 0 %d\r\nv%d\r\nEND\r\n" %
                        (i % 50, len(b"v%d" % (i % 50)), i % 50)
                        for i in range(100))
        ok = True
        for p in probes:
            p.send(b"".join(b"get k%d\r\n" % (i % 50) for i in range(100)))
            got = p.read(len(want))
            ok = ok and got == want
        tap.ok(ok, "100 pipelined gets (past -R 20) answered whole and in "
               "order on every connection")
        for p in probes:
            p.close()
        st = sdtest.stats(srv.port, b"slabcached")
        tap.ok(int(st.get("worker_helps", 0)) > 0,
               "stats slabcached counts worker_helps", st.get("worker_helps"))
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        tap.ok(not errors, "the busy connections got every value right",
               errors[:3])
        rc = srv.stop()
    tap.ok(rc == 0, "clean exit", f"status {rc}")
    preempted_helper(tap, env)
    churn(tap, 0)
    churn(tap, 1)
    switched_off(tap, env)
    return tap.done()


def counting_hammer(c, stop, errors, count):
    try:
        while not stop.is_set():
            if c.get(b"k0") != b"v0":
                errors.append("hammer: wrong value")
                return
            count[0] += 1
    except Exception as e:  # noqa: BLE001 - reported as a failure
        errors.append(f"hammer: {e}")


def preempted_helper(tap, env):
    """The helper naps holding one of worker 0's connections: worker 0
    serves its other one meanwhile, and the napped one is answered whole
    and in order afterwards."""
    env = dict(env, SLABCACHED_TEST_HELPER_NAP_MS=str(HELPER_NAP_MS))
    srv = sdtest.Server.slabcached("-t", "2", "--pressure=off", env=env)
    stop = threading.Event()
    errors = []
    count = [0]
    t = None
    try:
        # dealt out round robin after the start-up probe (worker 0):
        # worker 1, 0, 1, 0
        busy = sdtest.Client(srv.port)
        napped = sdtest.Client(srv.port)
        quiet = sdtest.Client(srv.port)
        other = sdtest.Client(srv.port)
        for i in range(50):
            busy.set(b"k%d" % i, b"v%d" % i)
        before = quiet.stats()
        # keeps worker 1 going round, so that it watches worker 0
        t = threading.Thread(target=counting_hammer,
                             args=(busy, stop, errors, count))
        t.start()
        time.sleep(0.3)
        want = b"".join(b"VALUE k%d 0 %d\r\nv%d\r\nEND\r\n" %
                        (i % 50, len(b"v%d" % (i % 50)), i % 50)
                        for i in range(100))
        t0 = time.monotonic()
        napped.send(b"".join(b"get k%d\r\n" % (i % 50)
                             for i in range(100)))
        time.sleep(0.2)
        t1 = time.monotonic()
        got_other = other.get(b"k1")
        other_ms = (time.monotonic() - t1) * 1000
        try:
            early = napped.s.recv(len(want), socket.MSG_DONTWAIT |
                                  socket.MSG_PEEK)
        except BlockingIOError:
            early = b""
        early_gets = early.count(b"END\r\n")
        got = napped.read(len(want))
        napped_ms = (time.monotonic() - t0) * 1000
        stop.set()
        t.join(10)
        t = None
        tap.ok(napped_ms > HELPER_NAP_MS * 0.8,
               "the helper napped holding worker 0's connection",
               f"its gets took {napped_ms:.0f} ms")
        tap.ok(got_other == b"v1" and early_gets < 100 and
               other_ms < HELPER_NAP_MS * 2 / 3,
               f"worker 0 answers its other connection while a helper "
               f"naps {HELPER_NAP_MS} ms holding one",
               f"answered in {other_ms:.0f} ms, the napped one had "
               f"{early_gets} of its 100 replies by then")
        tap.ok(got == want, "the napped connection's 100 pipelined gets "
               "answered whole and in order")
        after = quiet.stats()
        sent = count[0] + 100 + 1
        exact = all(int(after[k]) - int(before[k]) == sent
                    for k in ("cmd_get", "get_hits"))
        tap.ok(exact, "cmd_get and get_hits count every get once",
               f"sent {sent}, cmd_get +"
               f"{int(after['cmd_get']) - int(before['cmd_get'])}, "
               f"get_hits +"
               f"{int(after['get_hits']) - int(before['get_hits'])}")
        st = quiet.stats(b"slabcached")
        tap.ok(int(st.get("worker_help_skips", 0)) > 0 and
               int(st.get("worker_help_preempted", 0)) > 0,
               "stats slabcached counts the owner's skips and the "
               "helper's preempted pass",
               f"worker_help_skips {st.get('worker_help_skips')}, "
               f"worker_help_preempted {st.get('worker_help_preempted')}")
        for c in (busy, napped, quiet, other):
            c.close()
    finally:
        stop.set()
        if t:
            t.join(10)
        tap.ok(not errors, "the napping helper: the busy connection got "
               "every value right", errors[:3])
        rc = srv.stop()
    tap.ok(rc == 0, "the napping helper: clean exit", f"status {rc}")


def churn_client(port, seed, deadline, errors, counts):
    r = random.Random(seed)
    try:
        while time.monotonic() < deadline and not errors:
            c = sdtest.Client(port)
            for _ in range(r.randint(1, 30)):
                keys = [b"k%d" % r.randint(0, 20)
                        for _ in range(r.randint(1, 40))]
                if r.random() < 0.3 and c.set(keys[0], b"v" + keys[0]) \
                        != b"STORED":
                    errors.append("churn: set not stored")
                    return
                c.send(b"".join(b"get %s\r\n" % k for k in keys))
                for k in keys:
                    line = c.readline()
                    if line.startswith(b"VALUE "):
                        if line.split()[1] != k or \
                                c.read(int(line.split()[3]) + 2) != \
                                b"v" + k + b"\r\n":
                            errors.append(f"churn: {k} out of order")
                            return
                        line = c.readline()
                    if line != b"END":
                        errors.append(f"churn: {line!r} for {k}")
                        return
                counts[seed] += len(keys)
            if r.random() < 0.5:
                c.send(b"get k1\r\nquit\r\n")
            c.close()
    except Exception as e:  # noqa: BLE001 - reported as a failure
        errors.append(f"churn: {e!r}")


def churn(tap, nap_ms):
    """Connections served by both workers in turn, opened and closed all
    the time: no reply lost, none out of order, none left open."""
    env = dict(__import__("os").environ,
               SLABCACHED_TEST_WORKER_NAP_MS=str(nap_ms))
    srv = sdtest.Server.slabcached("-t", "2", "--pressure=off", "-R", "5",
                                   env=env)
    errors = []
    counts = [0] * 6
    try:
        deadline = time.monotonic() + 4
        threads = [threading.Thread(target=churn_client,
                                    args=(srv.port, i, deadline, errors,
                                          counts))
                   for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        st = sdtest.stats(srv.port, b"slabcached")
        tap.ok(not errors and min(counts) > 0,
               f"churn, naps of {nap_ms} ms: every pipelined get answered, "
               "whole and in order, with the workers serving each "
               "other's connections",
               f"{errors[:3]}; gets per client {counts}; worker_helps "
               f"{st.get('worker_helps')}, worker_help_skips "
               f"{st.get('worker_help_skips')}")
        closed = sdtest.wait_for(
            lambda: sdtest.stats(srv.port).get("curr_connections") == "1",
            timeout=5)
        tap.ok(closed, f"churn, naps of {nap_ms} ms: every connection "
               "closed at the end",
               sdtest.stats(srv.port).get("curr_connections"))
    finally:
        rc = srv.stop()
    tap.ok(rc == 0, f"churn, naps of {nap_ms} ms: clean exit",
           f"status {rc}")


def switched_off(tap, env):
    """-o no_worker_help: worker 0 napping, the other idle; nobody
    helps, and stats settings says so."""
    srv = sdtest.Server.slabcached("-t", "2", "--pressure=off",
                                   "-o", "no_worker_help", env=env)
    try:
        probes = [sdtest.Client(srv.port) for _ in range(4)]
        right = all(p.get(b"nope") is None for p in probes for _ in range(2))
        for p in probes:
            p.close()
        st = sdtest.stats(srv.port, b"slabcached")
        settings = sdtest.stats(srv.port, b"settings")
        tap.ok(right and st.get("worker_helps") == "0" and
               settings.get("worker_help") == "no",
               "-o no_worker_help: no worker helps another",
               f"worker_helps {st.get('worker_helps')}, "
               f"worker_help {settings.get('worker_help')}")
    finally:
        rc = srv.stop()
    tap.ok(rc == 0, "-o no_worker_help: clean exit", f"status {rc}")


if __name__ == "__main__":
    raise SystemExit(main())
