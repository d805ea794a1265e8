#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 18
"""The options and commands operators use: -M, -C, -F, -X, -A and
shutdown, cache_memlimit, -o idle_timeout and --command-timeout,
MEMCACHED_PORT_FILENAME, -d/-P, -u, -B, stats conns, stats detail, stats
cachedump, what stats reset resets, and stats reset and cache_memlimit
in one worker while others read the figures they change. Where memcached
has the same option, the same bytes go to a memcached started with it and
the replies must be identical.

The size classes: steps below 4 KiB, and every size with -f 1.05, 1.25
and 4.

Usage: options.py
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import sdtest


def both(tap, args, cases, name):
    """Run @cases (name, bytes) against slabcached and memcached, both with
    @args; replies byte for byte."""
    ours = sdtest.Server.slabcached("--pressure=off", *args)
    theirs = sdtest.Server.memcached(*args)
    try:
        for cname, data in cases:
            g = sdtest.exchange(ours.port, data)
            if theirs is None:
                tap.skip(f"{name}: {cname}", "memcached not installed")
                continue
            w = sdtest.exchange(theirs.port, data)
            tap.ok(g == w, f"{name}: {cname}: same reply as memcached",
                   f"slabcached: {g[:300]!r}\nmemcached:  {w[:300]!r}")
    finally:
        ours.stop()
        if theirs:
            theirs.stop()


def no_evictions(tap):
    """-M: a store that needs memory is refused, nothing is evicted."""
    srv = sdtest.Server.slabcached("-M", "-m", "8", "--pressure=off")
    c = sdtest.Client(srv.port)
    try:
        value = b"v" * 8000
        stored, reply = 0, None
        for i in range(5000):
            reply = c.set(b"m%d" % i, value)
            if reply != b"STORED":
                break
            stored += 1
        tap.ok(reply == b"SERVER_ERROR out of memory storing object" and
               stored > 500, "-M: stores are refused once -m is full",
               f"{stored} stored, then {reply!r}")
        st = c.stats()
        tap.ok(st["evictions"] == "0" and
               int(st["store_no_memory"]) == 1 and
               int(st["bytes"]) <= 8 << 20,
               "-M: nothing evicted, the refusal counted, bytes within -m",
               st)
        tap.ok(all(c.get(b"m%d" % i) == value for i in range(stored)),
               "-M: every stored item is still there")
        tap.ok(c.set(b"m0", b"y" * 200000) ==
               b"SERVER_ERROR out of memory storing object" and
               c.get(b"m0") is None,
               "-M: a refused set removes the old value, as in memcached")
    finally:
        c.close()
        srv.stop()


def size_classes(tap):
    """Classes 2.5 % apart below 4 KiB: an item's bytes (its slot's share
    of a slab, plus the library's entry, the same for every item here)
    step by at most 4.5 % as the value grows; with any -f every size stores
    and reads back."""
    srv = sdtest.Server.slabcached("--pressure=off")
    c = sdtest.Client(srv.port)
    try:
        costs = []
        for n in range(900, 1101):
            c.set(b"k", b"x" * n)
            costs.append((n, int(c.stats()["bytes"])))
        steps = [(n, b - a) for (_, a), (n, b) in zip(costs, costs[1:])
                 if b != a]
        worst = max(d / (n + 48) for n, d in steps)
        # a slot steps by 2.5 %; its share of a 64 KiB slab by a little
        # more where the objects per slab drop by one (8 % classes: 8 %)
        tap.ok(len(steps) >= 6 and worst <= 0.045,
               "size classes below 4 KiB step by at most 4.5 %",
               f"{len(steps)} steps over 900..1100 B, worst {worst:.3f}")
    finally:
        c.close()
        srv.stop()
    for f in ("1.05", "1.25", "4"):
        srv = sdtest.Server.slabcached("--pressure=off", "-f", f)
        c = sdtest.Client(srv.port)
        try:
            sizes = [1, 100, 1000, 4000, 5000, 70000, 300000, 600000,
                     1000000]
            ok = all(c.set(b"s%d" % n, b"%07d" % n * (n // 7) +
                           b"z" * (n % 7)) == b"STORED" for n in sizes)
            ok = ok and all(c.get(b"s%d" % n) == b"%07d" % n * (n // 7) +
                            b"z" * (n % 7) for n in sizes)
            tap.ok(ok, f"-f {f}: values of 1 B to 1 MB store and read back")
        finally:
            c.close()
            srv.stop()


def memlimit(tap):
    """cache_memlimit lowers the limit at once and shows in stats."""
    srv = sdtest.Server.slabcached("-m", "64", "--pressure=off")
    c = sdtest.Client(srv.port)
    try:
        for i in range(3000):
            c.set(b"l%d" % i, b"x" * 10000)
        before = int(c.stats()["bytes"])
        c.send(b"cache_memlimit 8\r\n")
        ok = c.readline()
        st = c.stats()
        tap.ok(ok == b"OK" and int(st["bytes"]) <= 8 << 20 <
               before and int(st["evictions"]) > 0 and
               st["limit_maxbytes"] == str(8 << 20) and
               c.stats(b"settings")["maxbytes"] == str(8 << 20),
               "cache_memlimit 8: evicts down to 8 MiB at once, and "
               "stats show the new limit", (ok, before, st))
    finally:
        c.close()
        srv.stop()


def idle_timeouts(tap):
    srv = sdtest.Server.slabcached("-o", "idle_timeout=2",
                                   "--command-timeout=0", "--pressure=off")
    try:
        idle = socket.create_connection(("127.0.0.1", srv.port), 10)
        busy = sdtest.Client(srv.port)
        start = time.monotonic()
        closed = None
        idle.settimeout(0.2)
        while time.monotonic() - start < 8:
            busy.set(b"k", b"v")  # keeps busy active
            try:
                if idle.recv(10) == b"":
                    closed = time.monotonic() - start
                    break
            except socket.timeout:
                pass
        tap.ok(closed is not None and 2 <= closed < 5,
               "-o idle_timeout=2: an idle connection is closed after "
               "2 to 3 s", f"closed after {closed}")
        st = busy.stats()
        tap.ok(busy.get(b"k") == b"v" and st.get("idle_kicks") == "1",
               "a busy connection stays; idle_kicks counts the close", st)
        busy.close()
        idle.close()
    finally:
        srv.stop()
    srv = sdtest.Server.slabcached("--command-timeout=2", "--pressure=off")
    try:
        half = socket.create_connection(("127.0.0.1", srv.port), 10)
        half.sendall(b"set h 0 0 10\r\nabc")
        idle = socket.create_connection(("127.0.0.1", srv.port), 10)
        half.settimeout(6)
        try:
            eof = half.recv(10) == b""
        except OSError:
            eof = True
        idle.settimeout(0.5)
        try:
            still = idle.recv(10) != b""
        except socket.timeout:
            still = True
        st = sdtest.stats(srv.port, b"slabcached")
        tap.ok(eof and still and st["conn_closed_command_timeout"] == "1",
               "--command-timeout=2: a half-written value is closed, an "
               "idle connection is not", st)
        half.close()
        idle.close()
    finally:
        srv.stop()


def port_file_and_daemon(tap):
    with tempfile.TemporaryDirectory() as d:
        pf = os.path.join(d, "ports")
        pidf = os.path.join(d, "pid")
        env = dict(os.environ, MEMCACHED_PORT_FILENAME=pf)
        p = subprocess.run([sdtest.daemon_path(), "-p", "-1", "-d", "-P",
                            pidf, "--pressure=off"], env=env, timeout=20)
        ok = sdtest.wait_for(lambda: os.path.exists(pf) and
                             os.path.exists(pidf))
        text = open(pf).read() if os.path.exists(pf) else ""
        m = re.match(r"TCP INET: (\d+)\n", text)
        pid = int(open(pidf).read()) if os.path.exists(pidf) else 0
        tap.ok(p.returncode == 0 and ok and m and pid > 0,
               "-d -P, MEMCACHED_PORT_FILENAME: backgrounds, writes its "
               "pid, and the port it got from -p -1 as memcached does",
               (p.returncode, text))
        if m and pid:
            port = int(m.group(1))
            r = sdtest.exchange(port, b"set a 0 0 1\r\nx\r\nget a\r\n")
            tap.ok(r == b"STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n",
                   "it serves on that port", r)
            os.kill(pid, signal.SIGTERM)
            gone = sdtest.wait_for(lambda: not os.path.exists(
                f"/proc/{pid}"))
            tap.ok(gone and not os.path.exists(pidf),
                   "SIGTERM stops it and removes the pid file")
        else:
            tap.skip("it serves on that port", "did not start")
            tap.skip("SIGTERM stops it", "did not start")


def run_as_user(tap):
    if os.geteuid() != 0:
        tap.skip("-u nobody: drops root", "not root")
        return
    srv = sdtest.Server.slabcached("-u", "nobody", "--pressure=off")
    try:
        # a reply comes from a worker, and workers start only after the
        # daemon has dropped root; a connect alone can be queued before
        r = sdtest.exchange(srv.port, b"version\r\n")
        uid = None
        with open(f"/proc/{srv.proc.pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    uid = int(line.split()[1])
        tap.ok(uid == 65534 and r.startswith(b"VERSION "),
               "-u nobody: runs as nobody once bound", uid)
    finally:
        srv.stop()


def shutdown(tap):
    srv = sdtest.Server.slabcached("-A", "--pressure=off")
    r = sdtest.exchange(srv.port, b"shutdown\r\n", sentinel=False)
    try:
        rc = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    tap.ok(r == b"<EOF>" and rc == 0,
           "-A: shutdown stops the daemon cleanly (exit 0)", (r, rc))
    srv.stop()


def conns_and_cachedump(tap):
    srv = sdtest.Server.slabcached("--pressure=off")
    try:
        nread = socket.create_connection(("127.0.0.1", srv.port), 10)
        nread.sendall(b"set half 0 0 6\r\n")
        c = sdtest.Client(srv.port)
        time.sleep(1.2)
        c.send(b"stats conns\r\n")
        lines = []
        while True:
            ln = c.readline()
            if ln == b"END":
                break
            lines.append(ln.decode())
        text = "\n".join(lines)
        fds = [int(m) for m in re.findall(r"STAT (\d+):addr ", text)]
        tap.ok(re.search(r":state conn_listening", text) and
               re.search(r":state conn_nread", text) and
               re.search(r":state conn_parse_cmd", text) and
               re.search(r":secs_since_last_cmd [1-9]", text) and
               re.search(r":addr tcp:127\.0\.0\.1:\d+", text) and
               fds == sorted(fds),
               "stats conns: the listener, a connection reading a value, "
               "this one parsing, in descriptor order", text)
        nread.close()
        for k in (b"alpha", b"beta", b"gamma"):
            c.set(k, b"12345")
        c.send(b"stats cachedump 1 0\r\n")
        items = set()
        while True:
            ln = c.readline()
            if ln == b"END":
                break
            items.add(ln)
        tap.ok(items == {b"ITEM %s [5 b; 0 s]" % k
                         for k in (b"alpha", b"beta", b"gamma")},
               "stats cachedump: the items of class 1, as memcached "
               "prints them", items)
        c.close()
    finally:
        srv.stop()


def walks(tap):
    """cachedump, the expiry sweep and the flush sweep walk the cache.

    The items keep no list of their own: these walk the library's cache
    and read each key from its entry, unescaping keys with the bytes 0x00
    and 0x01 that the library's key escapes."""
    srv = sdtest.Server.slabcached("--pressure=off")
    try:
        c = sdtest.Client(srv.port)
        odd = b"odd\x01key\x02"
        keys = [b"k%04d" % i for i in range(600)] + [odd]
        for k in keys:
            c.set(k, b"12345")

        def dump(limit):
            c.send(b"stats cachedump 1 %d\r\n" % limit)
            lines = []
            while True:
                ln = c.readline()
                if ln == b"END":
                    return lines
                lines.append(ln)
        got = dump(0)
        tap.ok(sorted(got) == sorted(b"ITEM %s [5 b; 0 s]" % k
                                     for k in keys),
               "stats cachedump: all 601 items once, a key with byte 0x01 "
               "as stored", [g for g in got if b"odd" in g])
        got = dump(7)
        tap.ok(len(got) == 7 and len(set(got)) == 7,
               "stats cachedump 1 7: 7 items", got)

        # the expiry sweep drops expired items nobody looks up
        for i in range(300):
            c.send(b"set e%04d 0 1 5 noreply\r\n12345\r\n" % i)
        before = int(c.stats()["crawler_reclaimed"])
        ok = sdtest.wait_for(
            lambda: int(c.stats()["curr_items"]) == len(keys), timeout=8)
        st = c.stats()
        tap.ok(ok and int(st["crawler_reclaimed"]) - before == 300,
               "the expiry sweep drops 300 expired items without a lookup",
               {k: st[k] for k in ("curr_items", "crawler_reclaimed",
                                   "crawler_items_checked")})
        # the flush sweep gives every flushed item's memory back
        c.send(b"flush_all\r\n")
        tap.ok(c.readline() == b"OK", "flush_all")
        ok = sdtest.wait_for(lambda: int(c.stats()["curr_items"]) == 0,
                             timeout=8)
        tap.ok(ok and c.get(b"k0001") is None and c.get(odd) is None,
               "the flush sweep drops every item", c.stats()["curr_items"])
        c.close()
    finally:
        srv.stop()


def reset_counts(tap):
    """stats reset: every counter back to 0, memcached's and ours."""
    srv = sdtest.Server.slabcached("-M", "-m", "8", "--pressure=off")
    try:
        c = sdtest.Client(srv.port)
        c.set(b"big", b"b" * (2 << 20))          # store_too_large
        for i in range(2000):                     # store_no_memory
            if c.set(b"f%d" % i, b"f" * 8000) != b"STORED":
                break
        sdtest.exchange(srv.port, b"x" * 5000, sentinel=False)
        srv.proc.send_signal(signal.SIGUSR2)      # a CRITICAL shed
        sdtest.wait_for(lambda: c.stats(b"pressure")["events_critical"] ==
                        "1")
        before = {**c.stats(), **c.stats(b"slabcached"),
                  **c.stats(b"pressure")}
        c.send(b"stats reset\r\n")
        r = c.readline()
        after = {**c.stats(), **c.stats(b"slabcached"),
                 **c.stats(b"pressure")}
        names = ["store_too_large", "store_no_memory", "cmd_set",
                 "total_items", "total_connections", "bytes_read",
                 "conn_closed_line_too_long", "events_critical", "items_shed",
                 "bytes_shed"]
        tap.ok(all(int(before[n]) > 0 for n in names),
               "before stats reset: the counters moved",
               {n: before[n] for n in names})
        # this connection's own stats command counts again after reset
        tap.ok(r == b"RESET" and
               all(int(after[n]) == 0 for n in names if n not in
                   ("bytes_read", "cmd_set")) and
               int(after["bytes_read"]) < 100 and
               after["curr_items"] == before["curr_items"] and
               after["last_event_level"] == "critical",
               "stats reset: store_too_large, store_no_memory, "
               "conn_closed_*, the shed counters back to 0; gauges and the "
               "last event stay", {n: after[n] for n in names +
                                   ["curr_items", "last_event_level"]})
        c.close()
    finally:
        srv.stop()


def repeat_command(port, commands, want, errors):
    """Send @commands one by one on a connection of their own, each
    answered by @want; the first other answer goes to @errors and ends it."""
    c = sdtest.Client(port)
    for cmd in commands:
        c.send(cmd)
        got = c.readline()
        if got != want:
            errors.append((cmd, got))
            break
    c.close()


def reset_races(tap):
    """stats reset in one connection while others read the counters and
    move them: a counter shown since the reset is never below its base (a
    difference that wrapped around would read above 2^63), and the
    daemon, with its reset and its readers in different workers, exits 0
    (under ThreadSanitizer, a race between them is an exit status 66)."""
    srv = sdtest.Server.slabcached("-t", "4", "-m", "8", "--pressure=off")
    names = ["total_connections", "rejected_connections",
             "listen_disabled_num", "evictions", "items_shed", "bytes_shed",
             "events_low", "events_medium", "events_critical"]
    wrapped = []
    errors = []

    def resetter():
        repeat_command(srv.port, [b"stats reset\r\n"] * 400, b"RESET",
                       errors)

    def reader():
        c = sdtest.Client(srv.port)
        for _ in range(200):
            st = {**c.stats(), **c.stats(b"pressure")}
            wrapped.extend((n, st[n]) for n in names if int(st[n]) >= 1 << 63)
        c.close()

    def mover():
        # new connections (total_connections) and evicting sets
        for i in range(200):
            c = sdtest.Client(srv.port)
            if c.set(b"r%d" % i, b"r" * 60000) != b"STORED":
                errors.append("set")
            c.close()

    try:
        threads = [threading.Thread(target=f)
                   for f in (resetter, reader, reader, mover)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        evicted = int(sdtest.stats(srv.port)["evictions"])
    finally:
        rc = srv.stop()
    tap.ok(not wrapped and not errors,
           "stats reset while other workers read the counters: none wraps "
           "around", f"{wrapped[:5]} {errors[:5]}")
    tap.ok(rc == 0, "stats reset while other workers read the counters: "
           "clean exit", f"status {rc}, evictions at the end {evicted}")


def memlimit_races(tap):
    """cache_memlimit in two connections at once while two others read
    -m (stats limit_maxbytes, stats settings maxbytes): every figure read
    is one that was set, and -m as shown at the end is the limit the
    cache has (limit_effective, nothing stranded); the daemon exits 0
    (under ThreadSanitizer, a race is an exit status 66)."""
    srv = sdtest.Server.slabcached("-t", "4", "-m", "32", "-M",
                                   "--pressure=off")
    sizes = {16: b"cache_memlimit 16\r\n", 24: b"cache_memlimit 24\r\n"}
    seen = set()
    errors = []

    def setter(order):
        repeat_command(srv.port, [sizes[order[i % 2]] for i in range(300)],
                       b"OK", errors)

    def reader():
        c = sdtest.Client(srv.port)
        for _ in range(150):
            seen.add(int(c.stats()["limit_maxbytes"]) >> 20)
            seen.add(int(c.stats(b"settings")["maxbytes"]) >> 20)
        c.close()

    try:
        threads = [threading.Thread(target=setter, args=((16, 24),)),
                   threading.Thread(target=setter, args=((24, 16),)),
                   threading.Thread(target=reader),
                   threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        shown = int(sdtest.stats(srv.port)["limit_maxbytes"])
        effective = int(sdtest.stats(srv.port, b"slabcached")
                        ["limit_effective"])
    finally:
        rc = srv.stop()
    tap.ok(not errors and seen <= {16, 24, 32} and shown == effective,
           "cache_memlimit in two workers at once while others read -m: "
           "every -m shown was set, and the last shown is the one in use",
           f"{errors[:3]}, seen {sorted(seen)} MiB, limit_maxbytes {shown},"
           f" limit_effective {effective}")
    tap.ok(rc == 0, "cache_memlimit while other workers read -m: clean exit",
           f"status {rc}")


def main():
    tap = sdtest.Tap()
    both(tap, ["-C"], [
        ("gets, cas, incr with -C", b"set a 0 0 1\r\nx\r\ngets a\r\n"
         b"cas a 0 0 1 0\r\ny\r\ncas a 0 0 1 5\r\nz\r\ngets a\r\n"
         b"set n 0 0 1\r\n5\r\nincr n 1\r\ngets n\r\n"
         b"ms m 1 c\r\nq\r\nmg m c v\r\n"),
        ("size limit with -C", b"set k 0 0 1048518\r\n" + b"c" * 1048518 +
         b"\r\nset k 0 0 1048519\r\n" + b"c" * 1048519 + b"\r\n"),
    ], "-C")
    both(tap, ["-F"], [("flush_all refused", b"set a 0 0 1\r\nx\r\n"
                        b"flush_all\r\nflush_all 10\r\nflush_all noreply\r\n"
                        b"get a\r\n")], "-F")
    both(tap, ["-X"], [("cachedump refused", b"stats cachedump 1 0\r\n")],
         "-X")
    both(tap, [], [
        ("shutdown not enabled", b"shutdown\r\nshutdown graceful\r\n"),
        ("cache_memlimit replies", b"cache_memlimit 7\r\n"
         b"cache_memlimit 1000000001\r\ncache_memlimit x\r\n"
         b"cache_memlimit\r\ncache_memlimit 100 noreply\r\n"
         b"cache_memlimit 64\r\ncache_memlimit 1 2 3\r\n"),
        ("stats detail", b"stats detail dump\r\nstats detail on\r\n"
         b"set a:1 0 0 1\r\nx\r\nget a:1 a:2 b:1 nokey\r\ndelete a:3\r\n"
         b"stats detail dump\r\nstats detail off\r\nget a:1\r\n"
         b"stats detail dump\r\nstats detail\r\nstats detail x\r\n"
         b"stats reset\r\nstats detail dump\r\n"),
        ("cachedump errors", b"stats cachedump\r\nstats cachedump 1\r\n"
         b"stats cachedump x 1\r\nstats cachedump 1 x\r\n"
         b"stats cachedump 64 1\r\nstats cachedump 0 0\r\n"),
        ("slabs", b"slabs automove 1\r\nslabs automove x\r\n"
         b"slabs automove 3\r\nslabs automove ratio 0.5\r\n"
         b"slabs automove ratio x\r\nslabs\r\nslabs foo\r\n"),
    ], "defaults")
    both(tap, ["-A"], [("shutdown with a bad mode", b"shutdown foo\r\n"
                        b"shutdown graceful x\r\n")], "-A")
    both(tap, ["-B", "binary"], [("-B binary: text is a bad magic",
                                  b"version\r\n")], "-B binary")
    no_evictions(tap)
    size_classes(tap)
    memlimit(tap)
    shutdown(tap)
    idle_timeouts(tap)
    port_file_and_daemon(tap)
    run_as_user(tap)
    conns_and_cachedump(tap)
    walks(tap)
    reset_counts(tap)
    reset_races(tap)
    memlimit_races(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
