#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 18
"""Real clients against a server: pymemcache for every command it has
(gat/gats and verbosity, which pymemcache 3.5 lacks, go through its raw
socket path in conformance.py; it has no meta mode), then
libmemcached-tools unchanged, in the text protocol and with its
BINARY_PROTOCOL behaviour (--binary): memcstat, memccp/memccat, memcslap;
then memjs, a Node.js client of the binary protocol (from npm, into
~/.cache/slabcache/npm). The same script runs against Debian's memcached
to show that the expectations are memcached's.

Usage: clients.py [slabcached] [memcached]   (default: both)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import sdtest


def pymemcache_checks(tap, port, name):
    from pymemcache.client.base import Client
    from pymemcache.exceptions import MemcacheClientError

    c = Client(("127.0.0.1", port), connect_timeout=5, timeout=10)
    t = f"{name}: pymemcache"

    tap.ok(c.set("k1", b"v1", noreply=False) is True, f"{t} set")
    tap.ok(c.get("k1") == b"v1", f"{t} get")
    tap.ok(c.get("missing") is None, f"{t} get miss")
    c.set("fl", b"x", flags=12345, noreply=False)

    class FlagsSerde:
        def serialize(self, key, value):
            return value, 0

        def deserialize(self, key, value, flags):
            return (value, flags)

    cf = Client(("127.0.0.1", port), connect_timeout=5, timeout=10,
                serde=FlagsSerde())
    r = cf.get("fl")
    tap.ok(r == (b"x", 12345), f"{t} flags kept", r)
    cf.close()
    many = {f"m{i}": f"val{i}".encode() for i in range(50)}
    tap.ok(c.set_many(many, noreply=False) == [], f"{t} set_many")
    got = c.get_many(list(many) + ["nope"])
    tap.ok(got == many, f"{t} get_many of 51 keys", got)
    v, cas = c.gets("k1")
    tap.ok(v == b"v1" and int(cas) > 0, f"{t} gets", (v, cas))
    tap.ok(c.cas("k1", b"v2", cas, noreply=False) is True, f"{t} cas match")
    tap.ok(c.cas("k1", b"v3", cas, noreply=False) is False,
           f"{t} cas stale: EXISTS")
    tap.ok(c.cas("nokey", b"v3", cas, noreply=False) is None,
           f"{t} cas missing: NOT_FOUND")
    gm = c.gets_many(["k1", "m1"])
    tap.ok(set(gm) == {"k1", "m1"} and gm["k1"][0] == b"v2",
           f"{t} gets_many", gm)
    tap.ok(c.add("k1", b"z", noreply=False) is False, f"{t} add existing")
    tap.ok(c.add("new", b"z", noreply=False) is True, f"{t} add new")
    tap.ok(c.replace("nope", b"z", noreply=False) is False,
           f"{t} replace missing")
    tap.ok(c.replace("new", b"zz", noreply=False) is True and
           c.get("new") == b"zz", f"{t} replace")
    c.append("new", b"-end", noreply=False)
    c.prepend("new", b"start-", noreply=False)
    tap.ok(c.get("new") == b"start-zz-end", f"{t} append/prepend")
    tap.ok(c.append("nope", b"x", noreply=False) is False,
           f"{t} append missing")
    c.set("n", b"41", noreply=False)
    tap.ok(c.incr("n", 1, noreply=False) == 42, f"{t} incr")
    tap.ok(c.decr("n", 50, noreply=False) == 0, f"{t} decr floors at 0")
    tap.ok(c.incr("nope", 1, noreply=False) is None, f"{t} incr missing")
    c.set("big", b"1" * 20, noreply=False)
    tap.ok(c.incr("big", 10 ** 19, noreply=False) ==
           (11111111111111111111 + 10 ** 19) % 2 ** 64, f"{t} incr wraps")
    try:
        c.set("s", b"abc", noreply=False)
        c.incr("s", 1, noreply=False)
        tap.ok(False, f"{t} incr non-numeric: client error")
    except MemcacheClientError as e:
        tap.ok("non-numeric" in str(e), f"{t} incr non-numeric: "
               "client error", e)
    tap.ok(c.touch("k1", 100, noreply=False) is True, f"{t} touch")
    tap.ok(c.touch("nope", 100, noreply=False) is False,
           f"{t} touch missing")
    tap.ok(c.delete("k1", noreply=False) is True and c.get("k1") is None,
           f"{t} delete")
    tap.ok(c.delete("k1", noreply=False) is False, f"{t} delete missing")
    tap.ok(c.delete_many(["m1", "m2", "nope"]) is True and
           c.get("m1") is None, f"{t} delete_many")
    # noreply: the default of pymemcache's set; the next reply still lines up
    c.set("nr", b"quiet")
    tap.ok(c.get("nr") == b"quiet", f"{t} noreply set")
    # expiry: negative = expired, > 30 days = absolute unix time
    c.set("e1", b"x", expire=-1, noreply=False)
    tap.ok(c.get("e1") is None, f"{t} negative exptime expires at once")
    c.set("e2", b"x", expire=int(time.time()) - 10, noreply=False)
    tap.ok(c.get("e2") is None, f"{t} absolute exptime in the past")
    c.set("e3", b"x", expire=int(time.time()) + 3600, noreply=False)
    tap.ok(c.get("e3") == b"x", f"{t} absolute exptime in the future")
    c.set("e4", b"x", expire=1, noreply=False)
    tap.ok(c.get("e4") == b"x", f"{t} relative exptime: alive")
    time.sleep(2.1)
    tap.ok(c.get("e4") is None, f"{t} relative exptime: gone after it")
    # sizes
    val = os.urandom(1000 * 1000)
    tap.ok(c.set("mb", val, noreply=False) is True and c.get("mb") == val,
           f"{t} 1 MB value round trip")
    try:
        r = c.set("toobig", b"x" * (1 << 20), noreply=False)
        tap.ok(False, f"{t} over-size value refused", r)
    except Exception as e:  # pymemcache raises MemcacheServerError
        tap.ok("too large" in str(e), f"{t} over-size value refused", e)
    tap.ok(c.get("nr") == b"quiet", f"{t} connection fine after over-size")
    try:
        c.get("k" * 251)
        tap.ok(False, f"{t} key of 251 refused")
    except MemcacheClientError:
        tap.ok(True, f"{t} key of 251 refused (by the client)")
    st = c.stats()
    tap.ok(b"curr_items" in st and st[b"curr_items"] > 0, f"{t} stats")
    for sub in ("slabs", "items", "settings"):
        tap.ok(isinstance(c.stats(sub), dict), f"{t} stats {sub}")
    tap.ok(c.version().startswith(b"1.6"), f"{t} version", c.version())
    tap.ok(c.flush_all(noreply=False) is True and c.get("nr") is None,
           f"{t} flush_all")
    c.set("later", b"x", noreply=False)
    tap.ok(c.flush_all(delay=2, noreply=False) is True and
           c.get("later") == b"x", f"{t} flush_all with delay: not yet")
    time.sleep(3.1)
    tap.ok(c.get("later") is None, f"{t} flush_all with delay: done")
    c.quit()
    c2 = Client(("127.0.0.1", port), connect_timeout=5, timeout=10)
    tap.ok(c2.set("after", b"q", noreply=False), f"{t} quit, reconnect")
    c2.close()


def tool(tap, desc, argv, check=None):
    try:
        p = subprocess.run(argv, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        tap.ok(False, desc, "timed out")
        return None
    good = p.returncode == 0 and (check is None or check(p.stdout))
    tap.ok(good, desc, (p.returncode, p.stdout[-600:], p.stderr[-600:]))
    return p


def libmemcached_checks(tap, port, name, binary=False):
    servers = f"--servers=127.0.0.1:{port}"
    t = f"{name}: libmemcached-tools" + (" --binary" if binary else "")
    flag = ["--binary"] if binary else []
    if not shutil.which("memcstat"):
        for what in ("memcstat", "memccp/memccat", "memcslap set",
                     "memcslap get", "memcslap mget"):
            tap.skip(f"{t} {what}", "libmemcached-tools not installed")
        return
    tool(tap, f"{t} memcstat", ["memcstat", servers] + flag,
         lambda out: b"curr_items" in out and b"pid" in out)
    with tempfile.TemporaryDirectory() as d:
        fname = "sdfile-bin.bin" if binary else "sdfile.bin"
        path = os.path.join(d, fname)
        data = os.urandom(300 * 1000)
        with open(path, "wb") as f:
            f.write(data)
        tool(tap, f"{t} memccp", ["memccp", servers] + flag + [path])
        tool(tap, f"{t} memccat returns the file",
             ["memccat", servers] + flag + [fname],
             lambda out: out == data + b"\n")  # it adds a newline
    for test in ("set", "get", "mget"):
        tool(tap, f"{t} memcslap {test} (short load)",
             ["memcslap", servers] + flag + ["--concurrency=2",
                                             "--execute-number=500",
                                             f"--test={test}"],
             lambda out: b"Time total" in out)


def memjs_dir():
    """memjs from npm, installed once into the download cache."""
    d = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                     os.path.join(os.path.expanduser("~"), ".cache"),
                     "slabcache", "npm")
    if os.path.isdir(os.path.join(d, "node_modules", "memjs")):
        return d, None
    if not shutil.which("npm") or not shutil.which("node"):
        return None, "node/npm not installed"
    os.makedirs(d, exist_ok=True)
    try:
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                            "--prefix", d, "memjs@1.3.2"],
                           capture_output=True, timeout=180)
    except subprocess.TimeoutExpired:
        return None, "npm install memjs timed out"
    if p.returncode != 0:
        return None, "npm install memjs failed: " + \
            p.stderr.decode(errors="replace")[-200:]
    return d, None


def memjs_checks(tap, port, name):
    t = f"{name}: memjs (binary protocol)"
    d, why = memjs_dir()
    if d is None:
        tap.skip(t, why)
        return
    env = dict(os.environ, NODE_PATH=os.path.join(d, "node_modules"))
    try:
        p = subprocess.run(["node", os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "memjs-check.js"), str(port)],
            capture_output=True, timeout=60, env=env)
        out = p.stdout.decode(errors="replace").splitlines()
    except subprocess.TimeoutExpired:
        out = ["not ok timed out"]
    for line in out:
        if line.startswith("ok "):
            tap.ok(True, f"{t} {line[3:]}")
        elif line.startswith("not ok "):
            tap.ok(False, f"{t} {line[7:]}")
    tap.ok(out[-1:] == ["done"], f"{t} ran to the end", out[-3:])


def run(tap, kind):
    if kind == "memcached":
        srv = sdtest.Server.memcached("-t", "2")
        if srv is None:
            tap.skip("memcached: real clients", "memcached not installed")
            return
    else:
        srv = sdtest.Server.slabcached("-t", "2", "--pressure=off")
    try:
        if sdtest.have_module("pymemcache"):
            pymemcache_checks(tap, srv.port, kind)
        else:
            tap.skip(f"{kind}: pymemcache", "python3-pymemcache not "
                     "installed for this python3")
        libmemcached_checks(tap, srv.port, kind)
        libmemcached_checks(tap, srv.port, kind, binary=True)
        memjs_checks(tap, srv.port, kind)
        tap.ok(srv.alive(), f"{kind}: still running")
    finally:
        rc = srv.stop()
    if kind == "slabcached":
        tap.ok(rc == 0, f"{kind}: SIGTERM: clean exit status 0",
               f"status {rc}")


def main():
    tap = sdtest.Tap()
    for kind in sys.argv[1:] or ["slabcached", "memcached"]:
        run(tap, kind)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
