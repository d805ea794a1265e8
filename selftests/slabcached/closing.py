#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 4
"""Replies are never lost when the daemon closes a connection.

A client pipelines a get whose reply is large, then a line the daemon
closes the connection for (a non-get line over the line limit, or quit,
with more bytes behind it). Every reply before the close must arrive
whole: the daemon sends what is queued, shuts its side down, and drains
the input before it closes, so the kernel never answers the unread input
with a reset that throws the queued replies away. Each case is repeated
many times, against slabcached and against Debian's memcached.

Usage: closing.py [ROUNDS]
"""

import socket
import sys

import sdtest

VALUE = b"v" * 700000


def one(port, tail):
    """Send a get of the big value then @tail; read to EOF."""
    s = socket.create_connection(("127.0.0.1", port), 10)
    try:
        s.sendall(b"get big\r\n" + tail)
        out = bytearray()
        while True:
            try:
                d = s.recv(1 << 16)
            except ConnectionResetError:
                return bytes(out) + b"<RESET>"
            if not d:
                return bytes(out)
            out += d
    finally:
        s.close()


OVERLONG = ("a non-get line over the limit", b"x" * 5000)
QUIT = ("quit with more input behind it",
        b"quit\r\n" + b"get big\r\n" * 2000)


def lost(port, tail, rounds):
    """Tries out of @rounds whose get reply did not arrive whole."""
    want = b"VALUE big 0 %d\r\n" % len(VALUE) + VALUE + b"\r\nEND\r\n"
    bad = []
    for i in range(rounds):
        got = one(port, tail)
        if got != want:
            bad.append((i, len(got), got[-20:]))
    return bad


def store(tap, name, port):
    c = sdtest.Client(port)
    tap.ok(c.set(b"big", VALUE) == b"STORED", f"{name}: big value stored")
    c.close()


def run(tap, name, port, rounds, cases):
    for desc, tail in cases:
        bad = lost(port, tail, rounds)
        tap.ok(not bad, f"{name}: {desc}: whole reply in {rounds} of "
               f"{rounds} tries", f"lost in {len(bad)} tries, first: "
               f"{bad[:3]}")


def linger_bounded(tap, port):
    """A client that keeps sending after the close is dropped after the
    linger time (2 s), not served for ever."""
    import time
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"x" * 5000)
    start = time.monotonic()
    closed_at = None
    try:
        while time.monotonic() - start < 8:
            s.sendall(b"y" * 1024)
            time.sleep(0.05)
    except OSError:
        closed_at = time.monotonic() - start
    s.close()
    tap.ok(closed_at is not None and closed_at < 5,
           "slabcached: a client that keeps sending after the close is "
           "dropped within the linger time", f"after {closed_at} s")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    tap = sdtest.Tap()
    ours = sdtest.Server.slabcached("-t", "2", "--pressure=off")
    try:
        store(tap, "slabcached", ours.port)
        run(tap, "slabcached", ours.port, rounds, [OVERLONG, QUIT])
        linger_bounded(tap, ours.port)
        st = sdtest.stats(ours.port, b"slabcached")
        tap.ok(int(st.get("conn_closed_line_too_long", -1)) == rounds + 1,
               "slabcached: each over-long line counted once", st)
    finally:
        rc = ours.stop()
    tap.ok(rc == 0, "slabcached: clean exit", f"status {rc}")
    theirs = sdtest.Server.memcached("-t", "2")
    if theirs is None:
        tap.skip("memcached: the same cases", "memcached not installed")
    else:
        try:
            store(tap, "memcached", theirs.port)
            run(tap, "memcached", theirs.port, rounds, [OVERLONG])
            # memcached closes at once after quit: for reference only
            bad = lost(theirs.port, QUIT[1], rounds)
            tap.diag(f"memcached: {QUIT[0]}: reply lost in {len(bad)} of "
                     f"{rounds} tries (not a requirement on memcached)")
        finally:
            theirs.stop()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
