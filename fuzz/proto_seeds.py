#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Seeds for fuzz/proto.c, written to fuzz/corpus/proto/seed-*: real client
traffic, each input the two bytes fuzz/proto.c reads first (settings and
split seed) then the client's bytes.

- every conformance case (text, meta, binary; selftests/slabcached/
  conformance.py), each also with -C -M -F -A and fed a byte at a time;
- the differential fuzzer's grammar (difffuzz.py), fixed seeds;
- pymemcache 3.5 (Debian's python3-pymemcache) running its commands
  against a slabcached (built in $SC_OBJTREE, default build/), its bytes
  recorded as it sent them.

Usage: fuzz/proto_seeds.py   (rerun after the cases change; the names are
stable, so the corpus keeps one file per seed)
"""

import hashlib
import os
import socket
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "selftests", "slabcached"))

import conformance as cf  # noqa: E402
import difffuzz  # noqa: E402
import sdtest  # noqa: E402

OUT = os.path.join(here, "corpus", "proto")
MAX_LEN = 4096  # run-fuzz.sh's -max_len
written = set()


def seed(name, mode, data):
    data = bytes([mode, len(name) & 0xff]) + data
    if len(data) > MAX_LEN:
        return
    tag = hashlib.sha1(data).hexdigest()[:8]
    safe = "".join(ch if ch.isalnum() else "-" for ch in name)[:48]
    path = os.path.join(OUT, f"seed-{safe}-{tag}")
    written.add(os.path.basename(path))
    with open(path, "wb") as f:
        f.write(data)


def conformance_seeds():
    for name, data in cf.CASES + cf.META_CASES + cf.BIN_CASES:
        chunks = data if isinstance(data, list) else [data]
        d = b"".join(chunks)
        binary = any(name == n for n, _ in cf.BIN_CASES)
        seed(name, 2 if binary else 0, d)
        # -C -M -F -A, and a byte at a time
        seed(name + " CMFA bytewise", (2 if binary else 1) | 4 | 8 | 16 |
             32 | 64, d)


def grammar_seeds():
    g = difffuzz.Gen(14, set())
    for i in range(120):
        seed(f"difffuzz {i}", (i & 1) * 64, b"".join(g.stream()))


class Recorder:
    """A socket module whose sockets keep what is sent through them."""

    def __init__(self):
        self.sent = []

    def __getattr__(self, name):
        return getattr(socket, name)

    def socket(self, *a, **kw):
        rec = self

        class RecSocket(socket.socket):
            def sendall(self, data, *args):
                rec.sent.append(bytes(data))
                return super().sendall(data, *args)

            def send(self, data, *args):
                n = super().send(data, *args)
                rec.sent.append(bytes(data[:n]))
                return n

        return RecSocket(*a, **kw)

    def create_connection(self, *a, **kw):
        s = socket.create_connection(*a, **kw)
        rs = self.socket(s.family, s.type, s.proto, fileno=s.detach())
        return rs


def pymemcache_seeds():
    try:
        from pymemcache.client.base import Client
    except ImportError:
        print("proto_seeds.py: no pymemcache, its traffic left out",
              file=sys.stderr)
        return
    srv = sdtest.Server.slabcached("-t", "1", "--pressure=off")
    try:
        sessions = {
            "set get": lambda c: (c.set("k1", b"v1", noreply=False),
                                  c.get("k1"), c.get("missing")),
            "set_many get_many": lambda c: (
                c.set_many({"a": b"1", "b": b"22", "c": b"333"},
                           noreply=False),
                c.get_many(["a", "b", "c", "d"]), c.delete_many(["a", "b"])),
            "add replace append prepend": lambda c: (
                c.add("x", b"1", noreply=False), c.add("x", b"2",
                                                       noreply=False),
                c.replace("x", b"3", noreply=False),
                c.append("x", b"4", noreply=False),
                c.prepend("x", b"0", noreply=False), c.get("x")),
            "gets cas": lambda c: (
                c.set("cv", b"1", noreply=False), c.gets("cv"),
                c.cas("cv", b"2", c.gets("cv")[1], noreply=False),
                c.cas("cv", b"3", b"1", noreply=False), c.gets_many(["cv"])),
            "incr decr": lambda c: (
                c.set("n", b"10", noreply=False), c.incr("n", 5),
                c.decr("n", 100), c.incr("nope", 1), c.decr("n", 1,
                                                           noreply=True)),
            "touch delete": lambda c: (
                c.set("t", b"v", expire=100, noreply=False),
                c.touch("t", 0, noreply=False), c.delete("t", noreply=False),
                c.delete("t", noreply=False)),
            "noreply": lambda c: (c.set("q", b"v"), c.add("q", b"w"),
                                  c.delete("q"), c.get("q")),
            "flags expire": lambda c: (
                c.set("f", b"v", expire=1000, flags=7, noreply=False),
                c.get("f")),
            "version flush": lambda c: (c.version(),
                                        c.flush_all(noreply=False),
                                        c.quit()),
        }
        for name, fn in sessions.items():
            rec = Recorder()
            c = Client(("127.0.0.1", srv.port), socket_module=rec,
                       connect_timeout=5, timeout=10)
            fn(c)
            c.close()
            seed("pymemcache " + name, 1, b"".join(rec.sent))
            seed("pymemcache " + name + " bytewise", 64, b"".join(rec.sent))
    finally:
        srv.stop()


def main():
    os.makedirs(OUT, exist_ok=True)
    conformance_seeds()
    grammar_seeds()
    pymemcache_seeds()
    for name in os.listdir(OUT):
        if name.startswith("seed-") and name not in written:
            os.unlink(os.path.join(OUT, name))
    print(f"proto_seeds.py: {len(written)} seeds in {OUT}")


if __name__ == "__main__":
    main()
