#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Raw-socket conformance: the same byte sequences go to a fresh slabcached
and a fresh Debian memcached, in the same order, one connection per case;
every reply must be identical byte for byte. Replies that differ by design
(version string, stats values) are checked for shape only.

Usage: conformance.py [--self-only]
"""

import sys
import time

import sdtest

K250 = b"k" * 250
K251 = b"k" * 251
# memcached's limit falls at 56 + key + 1 + value + 2 bytes of -I (1 MiB)
BIG_OK = (1 << 20) - 56 - len(b"big") - 1 - 2

CASES = [
    # storage commands and replies
    ("set/get", b"set a 0 0 1\r\nx\r\nget a\r\n"),
    ("set flags", b"set f 4294967295 0 3\r\nabc\r\nget f\r\n"),
    ("flags wrap to 32 bits", b"set f 4294967296 0 1\r\nx\r\nget f\r\n"),
    ("negative flags", b"set f -1 0 1\r\nx\r\n"),
    ("gets cas", b"set c 0 0 1\r\nx\r\ngets c\r\n"),
    ("get many", b"set m1 1 0 2\r\nm1\r\nset m2 2 0 2\r\nm2\r\n"
     b"get m1 nope m2 m1\r\ngets m2 m1\r\n"),
    ("get line of 40 KiB (answered as it streams in)",
     b"get " + b" ".join(b"m%d" % (i % 4) for i in range(12000)) + b"\r\n"),
    ("gets line of 40 KiB, LF only",
     b"gets " + b" ".join(b"m%d" % (i % 4) for i in range(12000)) + b"\n"),
    ("a gat line past 2048 bytes closes, as in memcached",
     b"gat 0 " + b" ".join(b"m%d" % (i % 4) for i in range(12000)) +
     b"\r\n"),
    ("long get line cut at a NUL", b"get " + b"m1 " * 7000 + b"\x00m2\r\n"),
    ("get 30 keys (past 24 tokens)",
     b"get " + b" ".join(b"m%d" % (i % 3) for i in range(30)) + b"\r\n"),
    ("add", b"add ad 0 0 1\r\nx\r\nadd ad 0 0 1\r\ny\r\nget ad\r\n"),
    ("replace", b"replace rp 0 0 1\r\nx\r\nset rp 0 0 1\r\nx\r\n"
     b"replace rp 5 0 2\r\nyy\r\nget rp\r\n"),
    ("append/prepend", b"set ap 7 0 2\r\nbb\r\nappend ap 0 0 2\r\ncc\r\n"
     b"prepend ap 9 0 2\r\naa\r\nget ap\r\nappend nope 0 0 1\r\nx\r\n"
     b"prepend nope 0 0 1\r\nx\r\n"),
    ("cas", b"set cs 0 0 1\r\nx\r\ngets cs\r\ncas cs 0 0 1 999999\r\ny\r\n"
     b"cas nope 0 0 1 1\r\ny\r\n"),
    ("cas match", b"set cm 0 0 1\r\nx\r\n"),  # followed by a computed case
    ("delete", b"set d 0 0 1\r\nx\r\ndelete d\r\ndelete d\r\nget d\r\n"),
    ("delete 0", b"set d 0 0 1\r\nx\r\ndelete d 0\r\ndelete d 0 noreply\r\n"),
    ("delete bad hold", b"delete d 1\r\ndelete d 0 x\r\ndelete d x noreply\r\n"),
    ("incr/decr", b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\nget n\r\n"
     b"decr n 100\r\nget n\r\nincr nope 1\r\ndecr nope 1\r\n"),
    ("decr shrinks in place", b"set n2 0 0 3\r\n100\r\ndecr n2 1\r\nget n2\r\n"
     b"incr n2 1\r\nget n2\r\n"),
    ("incr wraps", b"set w 0 0 20\r\n18446744073709551615\r\nincr w 2\r\n"
     b"get w\r\n"),
    ("incr non-numeric", b"set s 0 0 2\r\nab\r\nincr s 1\r\n"
     b"set s 0 0 3\r\n12a\r\nincr s 1\r\nset s 0 0 0\r\n\r\nincr s 1\r\n"),
    ("incr bad delta", b"incr n x\r\nincr n -1\r\nincr n 1.5\r\n"),
    ("touch", b"set t 0 0 1\r\nx\r\ntouch t 100\r\ntouch nope 1\r\n"
     b"touch t x\r\n"),
    ("touch expires", b"set t2 0 0 1\r\nx\r\ntouch t2 -1\r\nget t2\r\n"),
    ("gat/gats", b"set g 3 0 2\r\ngg\r\ngat 100 g nope\r\ngats 0 g\r\n"
     b"gat x g\r\ngat 1\r\n"),
    ("noreply", b"set nr 0 0 1 noreply\r\nx\r\nadd nr 0 0 1 noreply\r\ny\r\n"
     b"append nr 0 0 1 noreply\r\nz\r\nincr nr 1 noreply\r\n"
     b"touch nr 0 noreply\r\nget nr\r\ndelete nr noreply\r\nget nr\r\n"),
    ("noreply hides errors", b"set " + K251 + b" 0 0 1 noreply\r\nx\r\n"),
    # expiry as memcached interprets it
    ("negative exptime", b"set e 0 -1 1\r\nx\r\nget e\r\n"),
    ("30 days relative", b"set e 0 2592000 1\r\nx\r\nget e\r\n"),
    ("past absolute", b"set e 0 2592001 1\r\nx\r\nget e\r\n"),
    ("future absolute", b"set e 0 %d 1\r\nx\r\nget e\r\n"
     % (int(time.time()) + 3600)),
    # keys
    ("key of 250", b"set " + K250 + b" 0 0 1\r\nx\r\nget " + K250 + b"\r\n"),
    # one exchange each: memcached drops the unsent replies of earlier
    # pipelined commands when a get fails on a long key (its
    # conn_release_items() culls them); slabcached does not
    ("key of 251: set", b"set " + K251 + b" 0 0 1\r\nx\r\n"),
    ("key of 251: get", b"get " + K251 + b"\r\n"),
    ("key of 251 among others", b"get a " + K251 + b" a\r\n"),
    ("key of 251 after a reply (documented difference)",
     [b"get a\r\n", b"get " + K251 + b"\r\n"]),
    ("key of 251 delete/incr/touch", b"delete " + K251 + b"\r\nincr " +
     K251 + b" 1\r\ntouch " + K251 + b" 1\r\n"),
    ("line cut at NUL", b"get a\x00b\r\n"),
    ("bare CR key", b"get a\r\r\n"),
    ("extra spaces", b" get  a \r\nset  sp  0 0 1 \r\nx\r\nget sp\r\n"),
    ("LF only", b"get a\n"),
    # errors
    ("empty lines", b"\r\n\n \r\n"),
    ("unknown commands", b"GET a\r\nfoo\r\nx\r\nsets a\r\n"),
    ("wrong token counts", b"get\r\ngets\r\nset a 0 0\r\nset a 0 0 1 2 3\r\n"
     b"cas a 0 0 1\r\ntouch a\r\nincr a\r\ndelete\r\nverbosity\r\n"
     b"flush_all 1 2 3\r\n"),
    ("bad numbers", b"set t 0 x 1\r\nset t 0 1.5 1\r\nset t 0 0 1x\r\n"
     b"set t x 0 1\r\nset t 0 0 -1\r\nset t 0 0 2147483646\r\n"
     b"cas a 0 0 1 x\r\n"),
    ("numbers with sign and zeros", b"set t 0 0 01\r\nx\r\nset t +1 0 +1\r\n"
     b"y\r\nget t\r\n"),
    ("bad data chunk", b"set bd 0 0 1\r\nxyz\r\nget bd\r\n"),
    ("too large", b"set big 0 0 %d\r\n" % (BIG_OK + 1) + b"z" * (BIG_OK + 1)
     + b"\r\nget big\r\n"),
    ("largest", b"set big 0 0 %d\r\n" % BIG_OK + b"y" * BIG_OK +
     b"\r\nget big\r\n"),
    ("append/prepend across 512 KiB chunks",
     b"set ch 0 0 400000\r\n" + b"a" * 400000 + b"\r\nappend ch 0 0 300000\r\n"
     + b"b" * 300000 + b"\r\nprepend ch 0 0 200000\r\n" + b"c" * 200000 +
     b"\r\nget ch\r\nincr ch 1\r\n"),
    ("value of exactly one 512 KiB chunk, and one byte more",
     b"set c1 0 0 524286\r\n" + b"x" * 524286 + b"\r\nget c1\r\n"
     b"set c2 0 0 524287\r\n" + b"y" * 524287 + b"\r\nget c2\r\n"),
    ("too large append", b"set ta 0 0 1000000\r\n" + b"t" * 1000000 +
     b"\r\nappend ta 0 0 100000\r\n" + b"u" * 100000 + b"\r\nget ta\r\n"),
    ("too large set removes old", b"set big 0 0 2000000\r\n" +
     b"z" * 2000000 + b"\r\nget big\r\n"),
    ("too large noreply", b"set big 0 0 %d noreply\r\n" % (BIG_OK + 1) +
     b"z" * (BIG_OK + 1) + b"\r\n"),
    # other commands
    ("verbosity", b"verbosity 1\r\nverbosity 1 noreply\r\nverbosity x\r\n"
     b"verbosity 1 2\r\nverbosity 0\r\n"),
    ("flush_all", b"set fl 0 0 1\r\nx\r\nflush_all\r\nget fl\r\n"
     b"flush_all x\r\nflush_all 0 noreply\r\nflush_all noreply\r\n"),
    ("flush_all negative and past absolute delays",
     b"set a 0 0 1\r\nx\r\nflush_all -1\r\nget a\r\nset c 0 0 1\r\ny\r\n"
     b"flush_all 2592001\r\nget c\r\n"),
    ("flush_all then set", b"flush_all\r\nset fl 0 0 1\r\nx\r\nget fl\r\n"),
    ("stats unknown", b"stats nosuch\r\n"),
    ("stats reset", b"stats reset\r\n"),
    ("quit", b"get a\r\nquit\r\nget a\r\n"),
    # numbers are read in 64 bits and truncated to the field, not refused
    ("value length over 32 bits", b"set w 0 0 4294967297\r\nx\r\nget w\r\n"),
    ("exptime over 32 bits", b"set w 0 4294967296 1\r\nx\r\nget w\r\n"
     b"set w 0 4294967295 1\r\ny\r\nget w\r\nset w 0 8589934591 1\r\n"
     b"z\r\nget w\r\n"),
    ("flags over 32 bits, and out of 64", b"set w 8589934593 0 1\r\nx\r\n"
     b"get w\r\nset w 18446744073709551616 0 1\r\nx\r\n"),
    ("touch, gat, flush_all, verbosity over 32 bits",
     b"set w 0 0 1\r\nx\r\ntouch w 4294967296\r\nget w\r\n"
     b"touch w 4294967295\r\nget w\r\nset w 0 0 1\r\nx\r\n"
     b"gat 4294967296 w\r\ngat 8589934591 w\r\nget w\r\n"
     b"verbosity 4294967297\r\nverbosity 18446744073709551615\r\n"
     b"verbosity 18446744073709551616\r\nverbosity 0\r\n"
     b"set w 0 0 1\r\nx\r\nflush_all 4294967296\r\nget w\r\n"),
    # flush_all uses up a CAS unique when it takes effect at once
    ("flush_all and CAS uniques", b"set fc 0 0 1\r\nx\r\nflush_all\r\n"
     b"set fc 0 0 1\r\nx\r\ngets fc\r\nflush_all 0\r\nflush_all -5\r\n"
     b"flush_all 2592001\r\nset fc 0 0 1\r\ny\r\ngets fc\r\n"),
    ("delayed flush_all uses no unique", b"set fd 0 0 1\r\nx\r\n"
     b"flush_all 100\r\nset fd 0 0 1\r\ny\r\ngets fd\r\nflush_all 0\r\n"),
    # incr/decr read a number at the start of the value
    ("incr on a number followed by text",
     b"set n 0 0 36\r\n5 trailing text that is long enoughX\r\nincr n 1\r\n"
     b"get n\r\ndecr n 10\r\nget n\r\nset n 0 0 4\r\n12 x\r\nincr n 1\r\n"
     b"get n\r\n"),
    ("incr on long zero-padded numbers",
     b"set n 0 0 300\r\n" + b"0" * 299 + b"7\r\nincr n 1\r\nget n\r\n"
     b"set n 0 0 30\r\n" + b"0" * 29 + b"9\r\ndecr n 10\r\nget n\r\n"),
    ("incr on leading space, sign, tab, overflow",
     b"set n 0 0 3\r\n  7\r\nincr n 1\r\nset n 0 0 2\r\n+3\r\nincr n 1\r\n"
     b"set n 0 0 2\r\n-0\r\nincr n 1\r\nset n 0 0 2\r\n-1\r\nincr n 1\r\n"
     b"set n 0 0 3\r\n4\t5\r\nincr n 1\r\nset n 0 0 3\r\n4x5\r\nincr n 1\r\n"
     b"set n 0 0 20\r\n18446744073709551616\r\nincr n 1\r\n"
     b"set n 0 0 1\r\n \r\nincr n 1\r\nset n 0 0 1\r\n+\r\nincr n 1\r\n"
     b"set n 0 0 4\r\n12\r\n\r\nincr n 1\r\nget n\r\n"),
    # where memcached looks for a '-' (numbers of 2^63 and more)
    ("a '-' in a big number's token or value",
     b"set n 0 0 1\r\n1\r\nincr n -18446744073709551615\r\n"
     b"incr n 18446744073709551615\r\nget n\r\n"
     b"set n 0 0 22\r\n18446744073709551615 -\r\nincr n 1\r\n"
     b"set n 0 0 21\r\n9223372036854775808 x\r\nincr n 1\r\n"
     b"set n 0 0 23\r\n9223372036854775808 \x00-x\r\nincr n 1\r\n"
     b"set n 0 0 1\r\n1\r\nset n 0 0 22\r\n-9223372036854775809 \r\n"
     b"incr n 0\r\n"),
    # memcached's size counts 4 bytes of flags when they are not 0
    ("size limit with flags", b"set k 1 0 1048514\r\n" + b"f" * 1048514 +
     b"\r\nget k\r\nset k 0 0 1048514\r\n" + b"g" * 1048514 +
     b"\r\nset k 1 0 1048510\r\n" + b"h" * 1048510 + b"\r\n"
     b"append k 0 0 1\r\ni\r\nset k 0 0 1048510\r\n" + b"h" * 1048510 +
     b"\r\nappend k 0 0 1\r\ni\r\n"),
    # a value memcached keeps in chunks (item over 512 KiB) is not a number
    ("incr on a value near 512 KiB",
     b"set n 0 0 524265\r\n1" + b" " * 524264 + b"\r\nincr n 1\r\n"
     b"set n 0 0 524228\r\n1" + b" " * 524227 + b"\r\nincr n 1\r\n"
     b"set n 0 0 524229\r\n1" + b" " * 524228 + b"\r\nincr n 1\r\n"
     b"set n 5 0 524224\r\n1" + b" " * 524223 + b"\r\nincr n 1\r\n"
     b"set n 5 0 524225\r\n1" + b" " * 524224 + b"\r\nincr n 1\r\n"),
    # gat/gats touch the keys before one over 250 bytes
    # (each exchange alone: memcached also drops the replies it had not
    # yet sent to the commands before, a documented difference)
    ("gat with a long key touches the keys before it",
     [b"set gl 0 0 1\r\nx\r\nset gm 0 0 1\r\ny\r\n",
      b"gat -1 gl " + K251 + b" gm\r\nget gl gm\r\n",
      b"set gl 0 0 1\r\nx\r\n",
      b"gats -1 gl gl " + K251 + b"\r\nget gl gm\r\n"]),
    ("bget", b"set bg 3 0 2\r\nbg\r\nbget bg nope bg\r\nbget\r\n"),
    ("HTTP request line closes", b"get a\r\nGET / HTTP/1.1\r\n"),
    ("HTTP/ alone closes", b"HTTP/1.0\r\n"),
    ("HTTP/ after a known first letter is an error",
     [b"gxx / HTTP/1.1\r\n", b"sxx HTTP/1\r\n", b"mx HTTP/1\r\n",
      b"foo HTTP\r\n", b"foo x HTTP/\r\n",
      b"cxx HTTP/\r\n", b"ixx HTTP/\r\n", b"dxx HTTP/\r\n",
      b"txx HTTP/\r\n", b"axx HTTP/\r\n", b"rxx HTTP/\r\n",
      b"mxx HTTP/\r\n", b"m HTTP/\r\n"]),
    # long lines are parsed up to 16 KiB if they come in one read
    ("a 5000-byte line", b"verbosity 0" + b" " * 5000 + b"\r\n"
     b"stats " + b"x" * 5000 + b"\r\n"),
    ("a 16000-byte line", b"flush_all" + b" " * 16000 + b"\r\nget a\r\n"),
    ("a 17000-byte line closes", b"flush_all" + b" " * 17000 + b"\r\n"),
]


def run_all(port, with_sync=True):
    out = []
    for name, data in CASES:
        if isinstance(data, list):
            out.append(b"".join(sdtest.exchange(port, d) for d in data))
            continue
        closes = b"quit\r\n" in data
        r = sdtest.exchange(port, data, sentinel=not closes)
        out.append(r)
        if name == "cas match":
            # cas with the unique that gets just returned
            g = sdtest.exchange(port, b"gets cm\r\n")
            unique = g.split(b"\r\n")[0].split()[-1]
            r2 = sdtest.exchange(port, b"cas cm 0 0 1 %s\r\ny\r\n"
                                 b"cas cm 0 0 1 %s\r\nz\r\nget cm\r\n"
                                 % (unique, unique))
            out[-1] += g + r2
    return out


def shape_checks(tap, port):
    st = sdtest.exchange(port, b"stats\r\n")
    tap.ok(st.startswith(b"STAT pid ") and st.endswith(b"END\r\n") and
           b"STAT curr_items " in st and b"STAT limit_maxbytes " in st,
           "stats: general counters", st[:400])
    for sub in (b"slabs", b"items", b"settings", b"pressure"):
        r = sdtest.exchange(port, b"stats " + sub + b"\r\n")
        lines = r.split(b"\r\n")
        good = r.endswith(b"END\r\n") and all(
            ln.startswith(b"STAT ") and len(ln.split(b" ")) >= 3
            for ln in lines[:-2])
        tap.ok(good, f"stats {sub.decode()}: STAT lines then END", r[:400])
    r = sdtest.exchange(port, b"stats pressure\r\n")
    tap.ok(all(k in r for k in (b"events_low", b"events_medium",
                                  b"events_critical", b"items_shed",
                                  b"bytes_shed", b"last_event_time")),
           "stats pressure: events per level, items and bytes shed, last "
           "event time", r)
    r = sdtest.exchange(port, b"version\r\n")
    tap.ok(r.startswith(b"VERSION 1.6.18-slabcached-") and
           r.endswith(b"\r\n"), "version", r)


def unix_socket(tap):
    """-s: a UNIX socket instead of TCP; the file goes at exit."""
    import os
    import socket
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "slabcached.sock")
        p = subprocess.Popen([sdtest.daemon_path(), "-s", path,
                              "--pressure=off"])
        try:
            def ready():
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(path)
                    return s
                except OSError:
                    return None
            sdtest.wait_for(lambda: p.poll() is not None or ready())
            s = ready()
            tap.ok(s is not None, "-s: listens on the UNIX socket")
            if s:
                s.sendall(b"set u 0 0 2\r\nok\r\nget u\r\n")
                out = b""
                while not out.endswith(b"END\r\n"):
                    d2 = s.recv(1000)
                    if not d2:
                        break
                    out += d2
                tap.ok(out == b"STORED\r\nVALUE u 0 2\r\nok\r\nEND\r\n",
                       "-s: set and get over the UNIX socket", out)
                s.close()
        finally:
            p.terminate()
            rc = p.wait(10)
        tap.ok(rc == 0 and not os.path.exists(path),
               "-s: clean exit removes the socket file", rc)


def main():
    tap = sdtest.Tap()
    self_only = "--self-only" in sys.argv
    ours = sdtest.Server.slabcached("-t", "2", "--pressure=off")
    theirs = None if self_only else sdtest.Server.memcached("-t", "2")
    try:
        got = run_all(ours.port)
        shape_checks(tap, ours.port)
        if theirs is None:
            for name, _ in CASES:
                tap.skip(f"same reply as memcached: {name}",
                         "memcached not installed" if not self_only else
                         "--self-only")
        else:
            want = run_all(theirs.port)
            for (name, _), g, w in zip(CASES, got, want):
                tap.ok(g == w, f"same reply as memcached: {name}",
                       f"slabcached: {g[:300]!r}\nmemcached:  {w[:300]!r}")
        ours.proc.send_signal(__import__("signal").SIGHUP)
        r = sdtest.exchange(ours.port, b"get a\r\n")
        tap.ok(ours.alive() and r.endswith(b"END\r\n"),
               "SIGHUP is ignored: still running and serving", r)
    finally:
        rc = ours.stop()
        if theirs:
            theirs.stop()
    tap.ok(rc == 0, "SIGTERM: clean exit status 0", f"status {rc}")
    unix_socket(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
