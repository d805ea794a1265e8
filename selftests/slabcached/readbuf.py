#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 20
"""The read buffer a worker lends: a connection reads and parses in its
worker's 16 KiB buffer, and what is left unparsed when it must wait (a
partial command, the rest of a get line paused on a full output) moves to
its own buffer, made for it and freed after. Requests split at every kind
of place across wake-ups, in both protocols, must be answered as if they
came whole; the buffer gauges must come back; connections waiting for
their next command hold no buffers (as memcached's); and
with SLABCACHED_FAULT_CONN_BUF=n, each connection-buffer allocation in
turn fails: start-up exits 1 with a message, a connection whose buffer
could not be had is closed (never answered wrongly), the others are
served, and the daemon exits 0.

Usage: readbuf.py
"""

import os
import socket
import struct
import subprocess
import sys
import time

import sdtest

# long enough for the kernel to hand the daemon the first part alone
PAUSE = 0.2
# The fault walk's wait for a reply that does not come: a connection that
# neither answers nor closes within it is counted with the closed ones (a
# reply cut short is never a wrong one) and named in a diagnostic. Replies
# to its steps take milliseconds; a longer wait only makes the walk slower.
STEP_WAIT = 2


def bin_req(opcode, key=b"", value=b"", extras=b"", opaque=0):
    body = len(extras) + len(key) + len(value)
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras),
                       0, 0, body, opaque, 0) + extras + key + value


def bin_read(s, buf):
    """One binary response: (status, key, value, rest of buffer)."""
    while len(buf) < 24:
        d = s.recv(65536)
        if not d:
            raise EOFError("server closed")
        buf += d
    _, _, klen, elen, _, st, body, _, _ = struct.unpack(">BBHBBHIIQ",
                                                         buf[:24])
    while len(buf) < 24 + body:
        d = s.recv(65536)
        if not d:
            raise EOFError("server closed")
        buf += d
    pkt, buf = buf[24:24 + body], buf[24 + body:]
    return st, pkt[elen:elen + klen], pkt[elen + klen:], buf


def send_in_pieces(s, data, cuts):
    """Send @data cut at the offsets @cuts, pausing between the pieces."""
    last = 0
    for cut in cuts:
        s.sendall(data[last:cut])
        time.sleep(PAUSE)
        last = cut
    s.sendall(data[last:])


def text_reply(s, want_len):
    out = b""
    while len(out) < want_len:
        d = s.recv(1 << 20)
        if not d:
            break
        out += d
    return out


def value_reply(key, value):
    return b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(value), value)


def split_requests(tap, port):
    value = bytes(range(256)) * 40  # 10240 bytes
    s = socket.create_connection(("127.0.0.1", port), 10)
    req = b"set tv 0 0 %d\r\n%s\r\nget tv\r\n" % (len(value), value)
    want = b"STORED\r\n" + value_reply(b"tv", value)
    ok = True
    # in the command line, in the value, in its "\r\n", in the next line
    for cuts in ([5], [30], [30 + 4000], [len(req) - 12 - 1],
                 [len(req) - 4], [10, 20, 2100, 9000]):
        send_in_pieces(s, req, cuts)
        got = text_reply(s, len(want))
        if got != want:
            ok = False
            tap.diag(f"text cut at {cuts}: {got[:80]!r}")
    tap.ok(ok, "text: a 10 KB set and a get cut across wake-ups at every "
           "kind of place")

    # a burst of 40 sets and gets: reads end anywhere in them
    burst = b"".join(b"set b%d 0 0 %d\r\n%s\r\nget b%d\r\n" %
                     (i, len(value) - i, value[i:], i) for i in range(40))
    want = b"".join(b"STORED\r\n" + value_reply(b"b%d" % i, value[i:])
                    for i in range(40))
    s.sendall(burst)
    tap.ok(text_reply(s, len(want)) == want,
           "text: 40 pipelined sets and gets of about 10 KB")
    s.close()

    b = socket.create_connection(("127.0.0.1", port), 10)
    setq = bin_req(0x01, b"bv", value, struct.pack(">II", 7, 0), 1)
    get = bin_req(0x00, b"bv", opaque=2)
    req = setq + get
    ok = True
    for cuts in ([3], [23], [24 + 8 + 1], [24 + 8 + 2 + 5000],
                 [len(setq) - 1], [len(setq) + 10]):
        send_in_pieces(b, req, cuts)
        buf = b""
        st1, _, _, buf = bin_read(b, buf)
        st2, _, v, buf = bin_read(b, buf)
        if (st1, st2, v, buf) != (0, 0, value, b""):
            ok = False
            tap.diag(f"binary cut at {cuts}: {st1} {st2} {len(v)}")
    tap.ok(ok, "binary: a 10 KB set and a get cut across wake-ups, header "
           "and value")
    b.close()


def long_tail(tap, port):
    """A partial line over 2 KiB waits in an own buffer made for it, which
    is freed once the line is done."""
    c = sdtest.Client(port)
    c.set(b"k", b"v")
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"version\r\n")
    text_reply(s, 1)
    base = int(c.stats()["read_buf_bytes"])
    line = b"get" + b" k" * 1500  # 3003 bytes
    s.sendall(line)
    time.sleep(PAUSE)
    grown = int(c.stats()["read_buf_bytes"]) - base
    s.sendall(b"\r\n")
    want = b"VALUE k 0 1\r\nv\r\n" * 1500 + b"END\r\n"
    got = text_reply(s, len(want))
    tap.ok(got == want, "a 3000-byte get line sent in two parts is answered",
           repr(got[-80:]))
    s.sendall(b"version\r\n")
    text_reply(s, 1)
    after = int(c.stats()["read_buf_bytes"]) - base
    tap.ok(grown == 4096 and after == 0,
           "its partial line took an own buffer of 4 KiB, freed once the "
           "line was done", f"grown by {grown}, then {after}")
    s.close()
    c.close()


def paused_get(tap, port):
    """A get line of 3000 bytes whose reply is far larger than the socket
    buffers pauses on a full output: its keys left must survive the moves
    between the borrowed buffer and the own one."""
    c = sdtest.Client(port)
    vals = {}
    for i in range(100):
        key = b"p%02d" % i
        vals[key] = (b"%02d" % i) * 5000
        c.set(key, vals[key])
    keys = [b"p%02d" % (i % 100) for i in range(750)]
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.sendall(b"get " + b" ".join(keys) + b"\r\nget p07\r\n")
    time.sleep(2 * PAUSE)  # the daemon fills the socket and waits
    want = b"".join(b"VALUE %s 0 10000\r\n%s\r\n" % (k, vals[k])
                    for k in keys) + b"END\r\n" + \
        value_reply(b"p07", vals[b"p07"])
    got = text_reply(s, len(want))
    tap.ok(got == want, f"a paused get of {len(keys)} keys (7.5 MB) and the "
           "get after it are answered whole and in order",
           f"{len(got)} of {len(want)} bytes")
    s.close()
    c.close()


def yields(tap):
    """With -R 2 a connection yields every two commands, its pipelined
    commands left unparsed moving to its own buffer (grown past 2 KiB for
    them) and back on its next turn."""
    srv = sdtest.Server.slabcached("-t", "1", "-R", "2", "--pressure=off")
    try:
        value = b"y" * 1000
        burst = b"".join(b"set y%d 0 0 %d\r\n%s\r\nget y%d\r\n" %
                         (i, len(value), value, i) for i in range(60))
        want = b"".join(b"STORED\r\n" + value_reply(b"y%d" % i, value)
                        for i in range(60))
        s = socket.create_connection(("127.0.0.1", srv.port), 10)
        s.sendall(burst)
        got = text_reply(s, len(want))
        st = sdtest.stats(srv.port)
        yielded = int(st["conn_yields"])
        peak = int(sdtest.stats(srv.port, b"slabcached")["conn_buffer_peak"])
        tap.ok(got == want and yielded > 0,
               f"-R 2: 120 pipelined commands (61 KB) answered in order "
               f"across {yielded} yields", f"{len(got)} of {len(want)}")
        s.sendall(b"version\r\n")
        text_reply(s, 1)
        # the worker's 16 KiB; a connection waiting with nothing left
        # unparsed holds none
        now = 0

        def shrunk():
            nonlocal now
            now = int(sdtest.stats(srv.port)["read_buf_bytes"])
            return now == 16384
        tap.ok(sdtest.wait_for(shrunk, 10),
               "its own buffer, grown for the commands left by the yields, "
               f"is freed (buffers peaked at {peak} bytes)",
               f"read_buf_bytes {now}")
        s.close()
    finally:
        code = srv.stop()
    tap.ok(code == 0, "the daemon with -R 2 exits 0")


def fault_walk(tap):
    """SLABCACHED_FAULT_CONN_BUF=n for n = 1, 2, ... until runs are clean."""
    bad = []
    hung = []
    init_fail = closed = clean_runs = n = 0
    oom_seen = False
    while clean_runs < 3 and n < 200:
        n += 1
        env = dict(os.environ, SLABCACHED_FAULT_CONN_BUF=str(n))
        p, port = sdtest.spawn_on_port([sdtest.daemon_path(), "-p", "-1",
                                        "-t", "2", "--pressure=off"], env,
                                       stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
        if port is None and p.poll() is None:  # hung in its start-up
            p.kill()
            p.wait()

        def up():
            """Exited, or answers: the port listens before the workers
            start, so a connection alone does not tell."""
            if p.poll() is not None:
                return True
            try:
                with socket.create_connection(("127.0.0.1", port), 1) as s:
                    s.sendall(b"version\r\n")
                    return s.recv(100).startswith(b"VERSION")
            except OSError:
                return False
        sdtest.wait_for(up, 20)
        if p.poll() is not None:
            err = p.stderr.read()
            if p.returncode != 1 or b"Cannot allocate memory" not in err:
                bad.append(f"n={n}: start-up exit {p.returncode}: "
                           f"{err[-300:]!r}")
            init_fail += 1
            continue
        run_closed = 0
        # each step on a connection of its own: a failure closes only it
        steps = [
            (b"set k 0 0 5\r\nhello\r\n", b"", b"STORED\r\n"),
            (b"get" + b" k" * 1500, b"\r\n",
             b"VALUE k 0 5\r\nhello\r\n" * 1500 + b"END\r\n"),
            (b"set w 0 0 10000\r\n" + b"w" * 4000, b"w" * 6000 + b"\r\n",
             b"STORED\r\n"),
        ]
        stored = True
        run_hung = False
        for first, rest, want in steps:
            if first.startswith(b"get") and not stored:
                # the set's connection took the failure (one-shot, so
                # this look-up is served): was k stored before it?
                with socket.create_connection(("127.0.0.1", port),
                                              STEP_WAIT) as q:
                    q.sendall(b"get k\r\n")
                    if not text_reply(q, 5).startswith(b"VALUE"):
                        want = b"END\r\n"
            try:
                s = socket.create_connection(("127.0.0.1", port), STEP_WAIT)
                s.sendall(first)
                time.sleep(0.05)
                s.sendall(rest)
                got = text_reply(s, len(want))
                s.close()
            except TimeoutError:
                # neither the whole reply nor a close: a hang
                hung.append(f"n={n}: {first[:12]!r}")
                run_hung = True
                continue
            except OSError:
                got = b""
            if first.startswith(b"set k ") and got != want:
                stored = False
            if len(got) < len(want) and want.startswith(got):
                run_closed += 1  # closed, after whole replies at most
            elif got != want:
                bad.append(f"n={n}: {first[:20]!r}: {got[:60]!r}")
        # the failure is one-shot: if this connection took it, the next
        # one must be served
        for attempt in (1, 2):
            try:
                c = sdtest.Client(port)
                if c.set(b"after", b"ok") != b"STORED" or \
                        c.get(b"after") != b"ok":
                    bad.append(f"n={n}: no service after the failure")
                if int(c.stats()["read_buf_oom"]):
                    oom_seen = True
                c.close()
                break
            except (OSError, EOFError) as e:
                run_closed += 1
                if attempt == 2:
                    bad.append(f"n={n}: {e!r}")
        ended = sdtest.terminate(p)
        if ended:
            bad.append(f"n={n}: {ended}")
        closed += run_closed
        # the first failures may hit the readiness probe's connection:
        # the walk ends on clean runs once the steps' failures are past
        if run_closed or run_hung:
            clean_runs = 0
        elif closed:
            clean_runs += 1
    tap.ok(init_fail == 2 and not [b for b in bad if "start-up" in b],
           "start-up: each worker's read buffer failing gives exit 1 and a "
           "message", "\n".join(bad))
    tap.ok(closed > 0 and oom_seen and not bad,
           f"{n - init_fail - 3} failing connection-buffer allocations: "
           f"{closed} connections closed, none answered wrongly, the "
           "daemon serves on and exits 0", "\n".join(bad))
    tap.ok(clean_runs == 3, f"the walk reached runs with no failure left "
           f"(n = {n})")
    tap.ok(not hung, "every connection that took a failure was answered "
           f"whole or closed within {STEP_WAIT} s",
           "neither answered whole nor closed: " + ", ".join(hung))


def idle_connections(tap, port):
    """Connections that have set, got and meta-set, then wait: each holds
    its structure only, no read, reply or pending-value buffer (the worker
    threads keep a few of those for the next connection: counted, bounded
    by the threads, not by the connections)."""
    def buf_bytes():
        return int(sdtest.stats(port, b"slabcached")["conn_buffer_bytes"])

    base = buf_bytes()
    socks = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(b"set idle%d 0 0 3\r\nabc\r\nget idle%d\r\n"
                  b"ms idle%d 2 T0\r\nxy\r\n" % (i, i, i))
        socks.append(s)
    want = b"STORED\r\nVALUE idle%d 0 3\r\nabc\r\nEND\r\nHD\r\n"
    bad = [i for i, s in enumerate(socks)
           if text_reply(s, len(want % i)) != want % i]
    per_conn = 0

    def settled():
        nonlocal per_conn
        per_conn = (buf_bytes() - base) / len(socks)
        return per_conn < 1024
    tap.ok(not bad and sdtest.wait_for(settled, 10),
           "50 connections waiting for their next command hold no buffers "
           f"({per_conn:.0f} bytes each: the connection's structure)",
           f"bad replies on {bad}")
    for s in socks:
        s.close()


def main():
    tap = sdtest.Tap()
    srv = sdtest.Server.slabcached("-t", "2", "-m", "64", "--pressure=off")
    try:
        split_requests(tap, srv.port)
        long_tail(tap, srv.port)
        paused_get(tap, srv.port)
        st = {}

        def settled():
            st.update(sdtest.stats(srv.port))
            return st["read_buf_count"] == "2" and \
                st["read_buf_bytes"] == str(2 * 16384)
        tap.ok(sdtest.wait_for(settled, 10),
               "read buffers: the workers' two of 16 KiB, and none held by "
               "a connection waiting for its next command",
               f"{st['read_buf_count']} {st['read_buf_bytes']}")
        idle_connections(tap, srv.port)
    finally:
        code = srv.stop()
    tap.ok(code == 0, "the daemon exits 0")
    yields(tap)
    fault_walk(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
