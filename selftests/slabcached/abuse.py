#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 14
"""Abuse: random bytes, over-long lines, 1000 concurrent connections, the
connection limit, clients that vanish mid-value and mid-reply, half-written
commands left idle, a client that never reads its replies. Throughout, a
well-behaved client in another thread keeps storing and reading back values
and must see every one correct; the daemon must stay up, give every
connection buffer back, and exit 0 on SIGTERM.

Usage: abuse.py
"""

import os
import random
import socket
import struct
import sys
import threading

import sdtest

IDLE_TIMEOUT = 2


class Checker(threading.Thread):
    """Set and get unique values in a loop; count every wrong answer."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.rounds = 0
        self.errors = []
        self.paused = threading.Event()
        self.idle = threading.Event()
        # its connection is counted in curr_connections from now on
        self.connected = threading.Event()

    def pause(self):
        """Hold still (between rounds) so that counters can be compared."""
        self.paused.set()
        self.idle.wait(30)

    def resume(self):
        self.idle.clear()
        self.paused.clear()

    def run(self):
        try:
            c = sdtest.Client(self.port)
            while not self.stop.is_set():
                if self.paused.is_set():
                    self.idle.set()
                    threading.Event().wait(0.01)
                    continue
                key = b"chk%d" % (self.rounds % 100)
                val = b"%d-" % self.rounds + os.urandom(8).hex().encode()
                r = c.set(key, val)
                got = c.get(key)
                if r != b"STORED" or got != val:
                    self.errors.append((self.rounds, r, val, got))
                self.rounds += 1
                self.connected.set()  # answered: the daemon accepted it
            c.close()
        except Exception as e:  # a dropped or stuck connection is an error
            self.errors.append(repr(e))

    def finish(self):
        self.stop.set()
        self.join(30)
        return not self.is_alive()


def recv_until_eof(s, limit=10):
    s.settimeout(limit)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True
            out += d
    except ConnectionResetError:
        return out, True
    except socket.timeout:
        return out, False


def conn_count(port):
    return int(sdtest.stats(port)[("curr_connections")])


def unlinked_items(port):
    """Items allocated but not in the cache: in flight or leaked. (Slab
    used_chunks would not do: the allocator's per-thread caches hold
    objects too.)"""
    allocated = sum(int(v) for k, v in sdtest.stats(port, b"items").items()
                    if k.endswith(":number"))
    return allocated - int(sdtest.stats(port)["curr_items"])


def random_bytes(tap, port):
    base = conn_count(port)
    rng = random.Random(20261201)
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", port), 10)
        try:
            s.sendall(bytes(rng.getrandbits(8) for _ in range(4096)))
            s.shutdown(socket.SHUT_WR)
            recv_until_eof(s, 10)
        except (ConnectionResetError, BrokenPipeError):
            pass
        s.close()
    tap.ok(sdtest.wait_for(lambda: conn_count(port) <= base),
           "random bytes: 200 connections of noise handled and closed")


def long_lines(tap, port):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"x" * 3000)
    _, eof = recv_until_eof(s)
    tap.ok(eof, "a 3000-byte line without newline (not a get) closes "
           "that connection")
    s.close()
    c = sdtest.Client(port)
    c.set(b"lk1", b"one")
    c.set(b"lk2", b"two")
    base = int(c.stats(b"slabcached")["conn_buffer_bytes"])
    for nkeys, what in ((5000, "44 KiB"), (700000, "2.8 MB")):
        keys = b" ".join(b"lk%d" % (i % 3) for i in range(nkeys))
        c.send(b"get " + keys + b"\r\n")
        values = []
        while True:
            line = c.readline()
            if line == b"END":
                break
            values.append(c.read(int(line.split()[3]) + 2)[:-2])
        want = nkeys // 3 * 2 + (nkeys % 3 == 2)
        tap.ok(len(values) == want and set(values) == {b"one", b"two"},
               f"a get line of {nkeys} keys ({what}) is answered",
               (len(values), want))
    grown = int(c.stats(b"slabcached")["conn_buffer_peak"]) - base
    tap.ok(grown < 256 * 1024, "a 2.8 MB get line costs the daemon no more "
           "buffer than a short one (streamed)", f"peak grew {grown} bytes")
    c.close()


def many_connections(tap, port, n=1000):
    base = conn_count(port)
    socks = []
    try:
        for i in range(n):
            socks.append(socket.create_connection(("127.0.0.1", port), 10))
        for i, s in enumerate(socks):
            s.sendall(b"set many%d 0 0 %d\r\n%d\r\nget many%d\r\n" %
                      (i, len(b"%d" % i), i, i))
        bad = 0
        for i, s in enumerate(socks):
            want = b"STORED\r\nVALUE many%d 0 %d\r\n%d\r\nEND\r\n" % (
                i, len(b"%d" % i), i)
            got = b""
            s.settimeout(10)
            while len(got) < len(want):
                d = s.recv(4096)
                if not d:
                    break
                got += d
            bad += got != want
        tap.ok(bad == 0, f"{n} concurrent connections each get their own "
               "answers", f"{bad} wrong")
        tap.ok(conn_count(port) >= n, f"{n} connections open at once")
    finally:
        for s in socks:
            s.close()
    tap.ok(sdtest.wait_for(lambda: conn_count(port) <= base),
           f"{n} connections closed and counted down")


def conn_limit(tap):
    srv = sdtest.Server.slabcached("-c", "10", "-t", "2", "--pressure=off")
    try:
        # the first of the 10 waits until it is the only one counted (the
        # start-up probe's close is seen asynchronously)
        first = sdtest.Client(srv.port)
        sdtest.wait_for(lambda: first.stats()["curr_connections"] == "1")
        socks = [first.s] + [socket.create_connection(("127.0.0.1",
                                                        srv.port), 10)
                             for _ in range(9)]
        for s in socks[1:]:  # make sure each was accepted before the 11th
            s.sendall(b"version\r\n")
            s.recv(100)
        extra = socket.create_connection(("127.0.0.1", srv.port), 10)
        out, eof = recv_until_eof(extra)
        tap.ok(out == b"ERROR Too many open connections\r\n" and eof,
               "-c 10: the 11th connection is refused with memcached's "
               "error", out)
        extra.close()
        socks.pop().close()

        def can_connect():
            s = socket.create_connection(("127.0.0.1", srv.port), 10)
            s.sendall(b"version\r\n")
            ok = s.recv(100).startswith(b"VERSION")
            s.close()
            return ok
        tap.ok(sdtest.wait_for(can_connect),
               "-c 10: a connection is accepted again once one closes")
        tap.ok(all(s.sendall(b"get x\r\n") is None and
                   s.recv(100) == b"END\r\n" for s in socks),
               "-c 10: the others were not disturbed")
        for s in socks:
            s.close()
    finally:
        rc = srv.stop()
    tap.ok(rc == 0, "-c 10: clean exit", rc)


def out_of_fds(tap):
    """RLIMIT_NOFILE far below -c: accept() fails with EMFILE; the daemon
    must pause accepting (not spin), serve who it has, and take the
    waiting connections once descriptors are free again."""
    import resource

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    srv = sdtest.Server.slabcached("-t", "2", "--pressure=off",
                                   preexec=low_nofile)
    socks = []
    try:
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", srv.port), 10)
            s.sendall(b"version\r\n")
            socks.append(s)
        # accepted in order: once one waits, the later ones wait too
        served = []
        for i, s in enumerate(socks):
            if served and not served[-1]:
                served.append(False)
                continue
            s.settimeout(10 if i == 0 else 2)
            try:
                served.append(s.recv(100).startswith(b"VERSION"))
            except socket.timeout:
                served.append(False)
        first = sum(served)
        tap.ok(0 < first < 40, "RLIMIT_NOFILE 32: some of 40 connections "
               "served, the rest wait", first)
        for s, ok in zip(socks, served):
            if ok:
                s.close()
        waiting = [s for s, ok in zip(socks, served) if not ok]
        got = 0
        for s in waiting:
            s.settimeout(10)
            try:
                got += s.recv(100).startswith(b"VERSION")
            except socket.timeout:
                pass
        tap.ok(got == len(waiting), "the waiting ones are served once "
               "descriptors are free", f"{got} of {len(waiting)}")
        tap.ok(srv.alive(), "the daemon stayed up out of descriptors")
    finally:
        for s in socks:
            s.close()
        rc = srv.stop()
    tap.ok(rc == 0, "out of descriptors: clean exit", rc)


def vanishing(tap, port, checker):
    checker.pause()
    base = conn_count(port)
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(b"set van%d 0 0 500000\r\n" % i + b"v" * 200000)
        if i % 2:  # half with a reset, half with a FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        s.close()
    tap.ok(sdtest.wait_for(lambda: conn_count(port) <= base),
           "100 clients gone mid-value: connections closed")
    tap.ok(sdtest.wait_for(lambda: unlinked_items(port) == 0),
           "clients gone mid-value: their half-read items freed",
           unlinked_items(port))
    checker.resume()
    c = sdtest.Client(port)
    base += 1
    tap.ok(c.get(b"van7") is None, "a value cut short is not stored")
    big = os.urandom(500000)
    c.set(b"bigv", big)
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(b"get " + b"bigv " * 100 + b"\r\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
    tap.ok(sdtest.wait_for(lambda: conn_count(port) <= base),
           "50 clients gone mid-reply: connections closed")
    # a reply's pins go with its connection; one still closing when the
    # count came down (the count it started from may have held a client
    # of the tests before, closing too) lets go of them within the bound
    unpinned = sdtest.wait_for(lambda: sdtest.stats(
        port, b"slabcached")["pinned_evicted"] == "0")
    st = sdtest.stats(port, b"slabcached")
    tap.ok(c.get(b"bigv") == big and unpinned,
           "clients gone mid-reply: value intact, no pin left", st)
    c.close()


def idle(tap, port):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"get half-writ")
    _, eof = recv_until_eof(s, IDLE_TIMEOUT + 10)
    tap.ok(eof, f"a half-written line is closed after --command-timeout="
           f"{IDLE_TIMEOUT}")
    s.close()
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"set half 0 0 10\r\nabc")
    _, eof = recv_until_eof(s, IDLE_TIMEOUT + 10)
    tap.ok(eof, "a half-written value is closed after the command timeout")
    s.close()
    c = sdtest.Client(port)
    c.set(b"quiet", b"q")
    threading.Event().wait(IDLE_TIMEOUT + 1.5)
    tap.ok(c.get(b"quiet") == b"q", "an idle connection between commands "
           "is left open")
    st = c.stats(b"slabcached")
    tap.ok(int(st["conn_closed_command_timeout"]) >= 2,
           "command timeout closes are counted", st)
    c.close()


def held_bytes(c):
    """The connection buffers that connections hold: all of them less the
    workers' spares. A connection served in turn by its worker and by a
    helper takes spares from one worker's stash and gives them back to
    another's, and a worker with none makes new ones, so the total moves
    by what the stashes hold while no connection holds more."""
    st = c.stats(b"slabcached")
    return (int(st["conn_buffer_bytes"]) - int(st["conn_buffer_spare_bytes"]),
            st)


def non_reader(tap, port, checker):
    c = sdtest.Client(port)
    c.set(b"fat", os.urandom(400000))
    # the checker held still: a request of its in flight holds buffers
    checker.pause()
    base, st = held_bytes(c)
    checker.resume()
    spare = int(st["conn_buffer_spare_bytes"])
    tap.ok(0 < spare < int(st["conn_buffer_bytes"]),
           "the workers' spare buffers are counted apart, and in "
           "conn_buffer_bytes", st)
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.setblocking(False)
    req = b"get fat fat fat fat fat fat fat fat fat fat\r\n" * 100
    sent = 0
    stalls = 0
    while sent < 50 << 20 and stalls < 20:
        try:
            sent += s.send(req)
            stalls = 0
        except BlockingIOError:
            stalls += 1
            threading.Event().wait(0.05)
    grown = held_bytes(c)[0] - base
    tap.ok(stalls >= 20, "a client that never reads is stalled by the "
           "daemon (its sends block)", f"sent {sent}")
    tap.ok(grown < 256 * 1024, "its connection buffers stay bounded "
           "(< 256 KiB)", f"grew {grown} bytes after {sent} sent")
    tap.ok(c.get(b"fat") is not None and c.set(b"x", b"y") == b"STORED",
           "others keep being served meanwhile")
    s.close()
    checker.pause()
    gone = sdtest.wait_for(lambda: held_bytes(c)[0] <= base)
    held, st = held_bytes(c)
    checker.resume()
    tap.ok(gone, "its buffers are given back when it goes",
           f"held {held} against {base} before it came (conn_buffer_bytes "
           f"{st['conn_buffer_bytes']}, conn_buffer_spare_bytes "
           f"{st['conn_buffer_spare_bytes']}), curr_connections "
           f"{c.stats()['curr_connections']}")
    c.close()


def main():
    tap = sdtest.Tap()
    have = sdtest.raise_nofile(4096)
    # pressure off: memory pressure from other work on this machine would
    # shed the checker's values (correctly) and blur what is tested here
    srv = sdtest.Server.slabcached("-c", "1100", "-t", "4", "--pressure=off",
                                   f"--command-timeout={IDLE_TIMEOUT}",
                                   preexec=lambda: sdtest.raise_nofile(4096))
    checker = Checker(srv.port)
    checker.start()
    # the connection counts below start from one that includes the checker's
    checker.connected.wait(10)
    try:
        random_bytes(tap, srv.port)
        long_lines(tap, srv.port)
        if have >= 1100:
            many_connections(tap, srv.port)
        else:
            tap.skip("1000 concurrent connections",
                     f"RLIMIT_NOFILE is {have}")
        vanishing(tap, srv.port, checker)
        idle(tap, srv.port)
        non_reader(tap, srv.port, checker)
        alive = srv.alive()
        stopped = checker.finish()
        tap.ok(alive, "the daemon stayed up")
        tap.ok(stopped and not checker.errors and checker.rounds > 100,
               "a well-behaved client got every answer right throughout",
               f"{checker.rounds} rounds, errors: {checker.errors[:5]}")
        st = sdtest.stats(srv.port)
        st.update(sdtest.stats(srv.port, b"slabcached"))
        tap.ok(int(st["conn_buffer_peak"]) < 64 << 20,
               "peak of all connection buffers, 1000 connections included",
               st["conn_buffer_peak"])
        tap.diag(f"conn_buffer_peak {st['conn_buffer_peak']} bytes, "
                 f"checker rounds {checker.rounds}, evictions "
                 f"{st['evictions']}, shrunk {st['shrunk']}")
        tap.diag(sdtest.stats(srv.port, b"pressure"))
    finally:
        checker.stop.set()
        rc = srv.stop()
    tap.ok(rc == 0, "SIGTERM: clean exit status 0", f"status {rc}")
    conn_limit(tap)
    out_of_fds(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
