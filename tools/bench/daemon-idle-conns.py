#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Memory per idle connection: slabcached against memcached.

Each daemon (-t 2, -c 4096) is started, left a second, then takes N
connections that each send "version" and read the reply, then wait a
second; the daemon's VmRSS growth over N is what one idle connection
costs it (the kernel's socket memory is not in it, and is the same for
both). A measurement for Documentation/slabcached.rst, not a test.

Usage: daemon-idle-conns.py [--conns N] [--rounds R]
(the daemon from $SC_OBJTREE, default build/, as the scenarios find it)
"""

import argparse
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "selftests", "slabcached"))
import sdtest  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def per_conn(srv, n):
    time.sleep(1)
    before = rss_kib(srv.proc.pid)
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", srv.port), 10)
            s.sendall(b"version\r\n")
            socks.append(s)
        for s in socks:
            got = b""
            while not got.endswith(b"\r\n"):
                d = s.recv(100)
                if not d:
                    raise OSError("connection closed")
                got += d
        time.sleep(1)
        return (rss_kib(srv.proc.pid) - before) * 1024 / n
    finally:
        for s in socks:
            s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    opts = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = opts.conns + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    for r in range(opts.rounds):
        for kind in ("memcached", "slabcached"):
            if kind == "memcached":
                srv = sdtest.Server.memcached("-t", "2", "-c", "4096")
                if srv is None:
                    sys.exit("memcached not installed")
            else:
                srv = sdtest.Server.slabcached("-t", "2", "-c", "4096",
                                               "--pressure=off")
            try:
                b = per_conn(srv, opts.conns)
            finally:
                srv.stop()
            print(f"round {r + 1}: {kind}: {b:.0f} bytes of RSS per idle "
                  f"connection ({opts.conns})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
