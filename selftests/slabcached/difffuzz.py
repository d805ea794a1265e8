#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 7
# timeout: 600
"""Differential fuzzer: random command streams from a grammar of the text
protocol go to a fresh slabcached and a fresh Debian memcached 1.6.18, the
same streams in the same order, one connection per stream (sent at once,
or in pieces split at random points); the replies must be identical byte
for byte. Every case also checks that neither daemon died or hung.

The grammar covers the storage commands (set, add, replace, append,
prepend, cas; noreply; good and bad data blocks), get/gets/gat/gats with
several keys, delete, incr/decr, touch, flush_all with and without a
delay, verbosity, quit, unknown commands, wrong token counts, bad numbers,
keys from 1 to 251 bytes and odd bytes. Exptimes and delays never pass
during a run (see Gen.exptime()): short ones are the conformance test's.

Where the two daemons differ by design, or differ today and are tracked,
the difference is listed once, in DIFFERENCES below, with its reason; the
grammar then never produces that construct. A listed difference that is
tracked (not by design) carries a reproducer, which is run first: if the
daemons now agree on it, the entry must go (a stale exclusion would hide a
regression), and the run fails until it does. A difference by design
carries one too where a byte stream shows it on fresh daemons.

Usage: difffuzz.py [--seed N] [--cases N | --seconds S] [--daemon PATH]
                   [--idle S] [--dump DIR] [--verbose]
make check runs it with a fixed seed and a small number of cases.
"""

import argparse
import random
import shutil
import signal
import socket
import sys
import time

import sdtest

# ------------------------------------------------------------ differences
# tag: (why, reproducer or None). A tag names a construct of the grammar.
DIFFERENCES = {
    "version": ("by design: VERSION 1.6.18-slabcached-<ours> "
                "(Documentation/slabcached.rst)", None),
    "stats": ("by design: other counters and values "
              "(Documentation/slabcached.rst, Differences)", None),
    "long-key-get-pipelined": (
        "by design: memcached drops the unsent replies of earlier pipelined "
        "commands when a get or bget fails on a key over 250 bytes "
        "(Documentation/slabcached.rst, Differences)",
        b"set a 0 0 1\r\nx\r\nbget " + b"L" * 251 + b"\r\n"),
    "close-pipelined": (
        "by design: when memcached closes a connection for an HTTP request "
        "line, it drops the replies it has queued but not sent; slabcached "
        "sends them (Documentation/slabcached.rst, Differences). An HTTP "
        "line first in a stream is compared",
        b"set a 0 0 1\r\nx\r\nGET /a HTTP/1.1\r\n"),
    "long-line": (
        "by design: a line past 2 KiB other than get/gets closes the "
        "connection in both daemons when its newline is not in the bytes "
        "read so far, so the result depends on how the bytes arrive: "
        "memcached reads into 16 KiB and closes when such a line "
        "straddles the end of it; slabcached's buffer grows and reads on "
        "(Documentation/slabcached.rst, Differences). Even sent in one "
        "piece, a stream with such a line is judged by its reads under "
        "load: one that a 30-minute run caught closed memcached's "
        "connection in 20 of 100 replays and slabcached's in 31, not the "
        "same ones. get and gets lines of any length are compared",
        b"get a\r\n" * 1983 + b"x" * 3000 + b"\r\n"),
    "minus-wide": (
        "by design: for a number >= 2^63, memcached's safe_strtoull() looks "
        "for a '-' with strchr() from the value's start to the first NUL, "
        "past the value's \\r\\n into the stale bytes of earlier items in "
        "the same slab chunk, so its answer depends on its memory layout; "
        "slabcached looks in the value only "
        "(Documentation/slabcached.rst, Differences)",
        b"set n 0 0 29\r\n000000000000000000000000-----\r\ndelete n\r\n"
        b"set n 0 0 20\r\n18446744073709551615\r\nincr n 0\r\n"),
}

# ----------------------------------------------------------------- grammar
# memcached's first read of a connection (READ_BUFFER_SIZE), less room
READ_ONCE = 16384 - 1024

KEYS = [b"a", b"b", b"c", b"k1", b"k2", b"n", b"m", b"\xc3\xa9t\xc3\xa9",
        b"K" * 250]
LONG_KEY = b"L" * 251
NUMBERS = [b"0", b"1", b"2", b"10", b"255", b"65535", b"4294967295",
           b"2147483647", b"-1", b"+1", b"01", b"x", b"1x", b"1.5", b""]
WIDE = [b"4294967296", b"4294967297", b"18446744073709551615",
        b"18446744073709551616", b"9223372036854775808"]
EXPTIMES = [b"0", b"-1", b"100000", b"2592000", b"2592001", b"1000000000",
            b"2000000000"]
DELTAS = [b"0", b"1", b"5", b"100", b"18446744073709551615",
          b"9223372036854775807", b"x", b"-1", b"1.5", b""]


def int32(v):
    """@v as memcached's safe_strtol() stores it: a long cut to 32 bits."""
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def wide(tok, lo=-0x80000000, hi=0x7fffffff):
    """A well-formed number outside memcached's 32-bit field (which reads
    it as 64 bits and truncates)."""
    try:
        v = int(tok)
    except ValueError:
        return False
    return not lo <= v <= hi


class Gen:
    """Random streams. Values are numbers (digits only) or text that does
    not start with a digit; appends add digits and prepends add letters,
    so no value ever has a numeric prefix followed by text, unless that
    construct is allowed (see DIFFERENCES)."""

    def __init__(self, seed, excluded):
        self.r = random.Random(seed)
        self.excluded = excluded
        self.fresh()

    def fresh(self):
        """New daemons: nothing stored, nothing flushed."""
        # most digits a numeric value under each key may have: a number
        # of 19 digits and more may be >= 2^63 ("minus-wide")
        self.digits = {}
        # a flush has taken effect: see other()
        self.flushed = False

    def ok(self, *tags):
        return not any(t in self.excluded for t in tags)

    def key(self, allow_long=False):
        if allow_long and self.r.random() < 0.05:
            return LONG_KEY
        return self.r.choice(KEYS)

    def number(self, pool):
        if self.r.random() < 0.05:
            return self.r.choice(WIDE)
        if self.r.random() < 0.15:
            return self.r.choice(NUMBERS)
        return self.r.choice(pool)

    def exptime(self):
        """An exptime that cannot pass during a run: 0, negative, past,
        or a day and more ahead. A relative time of a few seconds would
        make the result depend on timing: each daemon's clock ticks once a
        second at a phase of its own (from its start), so an item set with
        1 s and read 0.5 s later has expired in one daemon and not in the
        other (the conformance test checks short exptimes, each step
        aligned to the daemon's own tick). Both daemons read the number
        into 32 bits (int32(4294967297) is 1): the truncated value is
        what must not be a short relative time; a wide number that lands
        on one becomes one that lands on a day."""
        t = self.number(EXPTIMES)
        try:
            v = int(t)
        except ValueError:
            return t
        if 0 < int32(v) < 100000:
            return b"4295067296" if wide(t) else b"100000"
        return t

    def value(self, kind):
        v = self.value_bytes(kind)
        # A stream that goes wrong (a length that does not match, a bad
        # command line) has data read as command lines: no run of 2000
        # bytes without a newline, which would be a "long-line" case.
        if "long-line" in self.excluded:
            v = b"\n".join(v[i:i + 1999] for i in range(0, len(v), 1999))
        return v

    def value_bytes(self, kind):
        n = self.r.choice([0, 1, 2, 5, 10, 30, 100, 1000, 3000])
        if kind == "num":
            n = max(1, min(n, 20))
            if self.r.random() < 0.1:
                return b"18446744073709551615"[:n]
            return bytes(self.r.choice(b"0123456789") for _ in range(n))
        if kind == "letters":
            return bytes(self.r.choice(b"abcxyz -") for _ in range(n))
        # text: never starts with a digit; any bytes after
        v = bytes(self.r.randrange(256) for _ in range(n))
        if v and v[:1].isdigit():
            v = b"t" + v[1:]
        return v

    def noreply(self):
        return b" noreply" if self.r.random() < 0.15 else b""

    def storage(self, pipelined):
        r = self.r
        cmd = r.choice([b"set", b"set", b"add", b"replace", b"append",
                        b"prepend", b"cas"])
        key = self.key(allow_long=True)
        tags = []
        if cmd == b"append":
            vk = "num"
        elif cmd == b"prepend":
            vk = "letters"
        else:
            vk = r.choice(["num", "text", "text"])
        if cmd in (b"append", b"prepend") and r.random() < 0.3:
            vk = r.choice(["num", "letters", "text"])
            tags.append("numeric-prefix")
        data = self.value(vk)
        nbytes = b"%d" % len(data)
        if vk == "num":
            if cmd == b"append":
                self.digits[key] = self.digits.get(key, 0) + len(data)
            elif cmd != b"prepend":
                self.digits[key] = max(self.digits.get(key, 0), len(data))
        flags = self.number([b"0", b"0", b"1", b"42", b"4294967295"])
        exptime = self.exptime()
        if r.random() < 0.05:  # a length that does not match the data
            nbytes = r.choice([b"0", b"1", b"2", b"10", b"255", b"65535",
                               b"-1", b"x", b"1x", b"", b"01", b"+1"])
        line = b"%s %s %s %s %s" % (cmd, key, flags, exptime, nbytes)
        if cmd == b"cas":
            line += b" " + self.number([b"1", b"2", b"3", b"5", b"8", b"13"])
        line += self.noreply()
        if r.random() < 0.03:
            line += b" extra"
        block = data + b"\r\n"
        if r.random() < 0.05:  # a bad data chunk, as long as a good one
            block = data + b"XY"
        if wide(flags, 0, 0xffffffff) or \
                any(wide(t) for t in (exptime, nbytes)):
            tags.append("wide-number")
        return line + b"\r\n" + block, tags

    def retrieval(self, pipelined):
        r = self.r
        cmd = r.choice([b"get", b"gets", b"gat", b"gats", b"get"])
        n = r.choice([0, 1, 1, 2, 3, 5, 30])
        keys = [self.key(allow_long=True) for _ in range(n)]
        tags = []
        line = cmd
        if cmd in (b"gat", b"gats"):
            t = self.exptime()
            line += b" " + t
            if wide(t):
                tags.append("wide-number")
            if LONG_KEY in keys:
                tags.append("gat-long-key")
        if LONG_KEY in keys and pipelined:
            tags.append("long-key-get-pipelined")
        for k in keys:
            line += b" " + k
        # get and gets lines grow past 2 KiB in both daemons, whatever
        # the reads; a gat or gats line that long is a long line
        if len(line) > 2048 and cmd in (b"gat", b"gats"):
            tags.append("long-line")
        return line + b"\r\n", tags

    def arith(self, pipelined):
        r = self.r
        key = self.key(allow_long=True)
        delta = self.number(DELTAS)
        tags = []
        if wide(delta, 0, (1 << 64) - 1):
            tags.append("wide-number")
        if r.random() < 0.02:
            # the token is read to its end in both: compared
            delta = b"-" + r.choice(WIDE)
        d = self.digits.get(key, 0)
        if d >= 19 or len(delta) >= 19:
            tags.append("minus-wide")
        self.digits[key] = max(d, len(delta)) + 1
        line = b"%s %s %s" % (r.choice([b"incr", b"decr"]), key, delta)
        return line + self.noreply() + b"\r\n", tags

    def other(self, pipelined):
        r = self.r
        c = r.randrange(12)
        key = self.key(allow_long=True)
        if c == 0:
            return b"delete %s%s\r\n" % (key, self.noreply()), []
        if c == 1:
            return b"delete %s %s\r\n" % (key, r.choice([b"0", b"1", b"x"])), []
        if c == 2:
            t = self.exptime()
            return (b"touch %s %s%s\r\n" % (key, t, self.noreply()),
                    ["wide-number"] if wide(t) else [])
        if c == 3:
            v = self.number([b"0", b"1", b"2"])
            return (b"verbosity %s%s\r\n" % (v, self.noreply()),
                    ["wide-number"] if wide(v) else [])
        if c == 4:
            # A delay: none (0, negative), past (absolute, before the
            # start: oldest_live 0, no flush) or a day and more ahead. Once
            # a flush has taken effect, only flushes that take effect: one
            # that moves oldest_live later (or to 0) makes the items the
            # earlier one hid visible again, unless they have been dropped
            # meanwhile, which memcached does when a store pulls them from
            # an LRU tail and slabcached two ticks after the flush: not a
            # matter of what was sent.
            t = b""
            if r.random() < 0.4:
                t = self.exptime()
                try:
                    if int32(int(t)) > 0 and self.flushed:
                        t = r.choice([b"0", b"-1"])
                except ValueError:
                    pass
            try:
                if not t or int32(int(t)) <= 0:
                    self.flushed = True
            except ValueError:
                pass
            return (b"flush_all%s%s\r\n" % (b" " + t if t else b"",
                                             self.noreply()),
                    ["flush-all"] + (["wide-number"] if wide(t) else []))
        if c == 5:
            return b"version\r\n", ["version"]
        if c == 6:
            return b"stats\r\n", ["stats"]
        if c == 7:
            return r.choice([b"GET a\r\n", b"foo\r\n", b"sets a\r\n",
                             b"\r\n", b"  \r\n", b"get\r\n", b"incr a\r\n",
                             b"touch a\r\n", b"cas a 0 0 1\r\n",
                             b"set a 0 0\r\n", b"get a\x00b\r\n",
                             b"get a\r\r\n", b"get a\n"]), []
        if c == 8:
            return (b"bget %s\r\n" % key,
                    ["long-key-get-pipelined"]
                    if key == LONG_KEY and pipelined else [])
        if c == 9:
            return (b"GET /%s HTTP/1.1\r\n" % key,
                    ["close-pipelined"] if pipelined else [])
        if c == 10:
            return (b"set " + b"k" * 250 + b" 0 0 1" +
                    b" " * r.choice([1000, 2100, 6000]) + b"\r\nx\r\n",
                    ["long-line"])
        return b"quit\r\n", ["quit"]

    def stream(self):
        """A stream of 1 to 12 commands, none of an excluded kind."""
        out = []
        for i in range(self.r.randint(1, 12)):
            for _ in range(100):
                f = self.r.choice([self.storage, self.storage,
                                   self.retrieval, self.retrieval,
                                   self.arith, self.other])
                saved = dict(self.digits)
                cmd, tags = f(pipelined=i > 0)
                if self.ok(*tags):
                    break
                self.digits = saved
            else:
                continue
            out.append(cmd)
            if "quit" in tags:
                break
        # memcached reads into a buffer of 16 KiB: a line of more than
        # 2 KiB without its newline at the end of one read closes the
        # connection there, where slabcached, whose buffer grows, reads
        # on. Where a stream's reads end is a matter of buffer sizes and
        # of what the data blocks before took, so a stream with a line
        # that long (a command, or a data block read as commands after a
        # bad one) fits in one read of memcached's.
        while len(b"".join(out)) > READ_ONCE and max(
                len(run) for run in b"".join(out).split(b"\n")) >= 2000:
            out.pop()
        return out


# -------------------------------------------------------------- exchanges
# Ends every stream: commands that change nothing, whose six replies a
# random stream is most unlikely to produce in this order (sdtest's three
# are not enough for random streams).
SENTINEL = (b"delete __sync__\r\nverbosity 0\r\ntouch __sync__ 0\r\n"
            b"verbosity 0\r\nverbosity 0\r\ndelete __sync__\r\n")
SENTINEL_REPLY = b"NOT_FOUND\r\nOK\r\nNOT_FOUND\r\nOK\r\nOK\r\nNOT_FOUND\r\n"

# 66 KiB in lines of 1000 bytes: completes any data block of up to 64 KiB
# without a line long enough to close the connection.
FILLER = (b"f" * 1000 + b"\r\n") * 66


def exchange(port, chunks, timeout=10, idle=0.5, filler=FILLER):
    """Send the chunks, then the sentinel; return the replies up to the
    sentinel's, or up to EOF. A stream can leave a daemon inside a data
    block (a length larger than the data), which swallows the sentinel:
    after @idle seconds without a byte, <IDLE> is noted and @filler (66 KiB
    of short lines, then the sentinel again) sent to complete the block.
    Raises TimeoutError if replies still flow after @timeout seconds."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        try:
            for c in chunks:
                s.sendall(c)
                if len(chunks) > 1:
                    time.sleep(0.001)
            s.sendall(SENTINEL)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server: read what it sent
        out = b""
        deadline = time.monotonic() + timeout
        s.settimeout(idle)
        while not out.endswith(SENTINEL_REPLY):
            if time.monotonic() > deadline:
                raise TimeoutError(out[-200:])
            try:
                d = s.recv(1 << 16)
            except ConnectionResetError:
                return out + b"<EOF>"
            except socket.timeout:
                if filler is None:
                    return out + b"<IDLE>"
                # inside a data block: complete any that is not too
                # large, so that replies held until its end come too
                out += b"<IDLE>"
                try:
                    s.sendall(filler + SENTINEL)
                except OSError:
                    return out + b"<EOF>"
                filler = None
                continue
            if not d:
                return out + b"<EOF>"
            out += d
        return out[:-len(SENTINEL_REPLY)]
    finally:
        s.close()


def responsive(port):
    """A fresh connection gets its answer."""
    try:
        return exchange(port, [b"get __alive__\r\n"]) == b"END\r\n"
    except (OSError, TimeoutError):
        return False


def split(r, data):
    """The stream at once, or cut at up to 8 random points."""
    if r.random() < 0.8 or len(data) < 2:
        return [data]
    # a line past 2 KiB is parsed if it came in one read, in both daemons,
    # so one split into reads is judged by timing (long-line): at once
    if max(len(run) for run in data.split(b"\n")) >= 2000:
        return [data]
    cuts = sorted(r.sample(range(1, len(data)), min(8, len(data) - 1)))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


class Pair:
    """A fresh slabcached and a fresh memcached."""

    def __init__(self, daemon):
        self.ours = sdtest.Server([daemon, "-p", "-1", "-t", "2",
                                   "--pressure=off"])
        # memcached's LRU maintainer and crawler take references to items
        # at times of their own, and an incr or decr on an item referenced
        # elsewhere writes a new item instead of rewriting it in place
        # (no space padding): off, so that memcached is deterministic.
        self.theirs = sdtest.Server.memcached(
            "-t", "2", "-o", "no_lru_crawler,no_lru_maintainer")

    def stop(self):
        rc = self.ours.stop()
        self.theirs.stop()
        return rc


def probe_differences(tap, daemon):
    """Each tracked difference must still be one."""
    pair = Pair(daemon)
    try:
        for tag, (why, repro) in DIFFERENCES.items():
            if repro is None:
                continue
            try:
                a = exchange(pair.ours.port, [repro])
                b = exchange(pair.theirs.port, [repro])
            except TimeoutError as e:
                a, b = b"<hang>", repr(e).encode()
            tap.ok(a != b, f"listed difference still differs: {tag} ({why})",
                   "the daemons agree now: take it out of DIFFERENCES\n"
                   f"both: {a[:200]!r}")
    finally:
        log = pair.ours.logpath
        rc = pair.stop()
    tap.ok(rc == 0, "slabcached exits cleanly (status 0) after the probes",
           f"status {rc}, log in {log}")


def main():
    # a timeout's SIGTERM unwinds, so that both daemons are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--cases", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--daemon", default=sdtest.daemon_path())
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--dump", help="write each divergent stream here")
    ap.add_argument("--idle", type=float, default=0.5,
                    help="seconds without a reply byte that mean a stall "
                    "(more for a slow daemon, e.g. an ASan build)")
    opt = ap.parse_args()

    tap = sdtest.Tap()
    if not shutil.which("memcached"):
        tap.skip("differential fuzzing against memcached",
                 "memcached not installed")
        return tap.done()
    probe_differences(tap, opt.daemon)

    gen = Gen(opt.seed, set(DIFFERENCES))
    pair = Pair(opt.daemon)
    start = time.monotonic()
    cases = divergent = hangs = crashes = 0
    sent = 0
    history = []  # the streams the current pair has seen
    try:
        while True:
            if opt.seconds:
                if time.monotonic() - start > opt.seconds:
                    break
            elif cases >= opt.cases:
                break
            cmds = gen.stream()
            if not cmds:
                continue
            data = b"".join(cmds)
            chunks = split(gen.r, data)
            cases += 1
            sent += len(cmds)
            history.append(chunks)
            try:
                a = exchange(pair.ours.port, chunks, idle=opt.idle)
                b = exchange(pair.theirs.port, chunks, idle=opt.idle)
            except TimeoutError as e:
                hangs += 1
                tap.ok(False, f"case {cases}: no hang", f"stream: {data!r}\n"
                       f"last bytes: {e}")
                a = b = None
            # memcached holds the replies before a data block until the
            # block is complete, slabcached sends them at once: where the
            # stream stalled in a block is no difference in what is sent
            if a is not None:
                a = a.replace(b"<IDLE>", b"")
                b = b.replace(b"<IDLE>", b"")
            if a is not None and a != b:
                divergent += 1
                if opt.dump:
                    with open(f"{opt.dump}/case-{opt.seed}-{cases}", "wb") as f:
                        f.write(repr(history).encode())
                at = next((i for i in range(min(len(a), len(b)))
                           if a[i] != b[i]), min(len(a), len(b)))
                tap.ok(False, f"case {cases} (seed {opt.seed}): same reply",
                       f"stream:     {data[:600]!r}\n"
                       f"first difference at byte {at} of the replies "
                       f"({len(history)} streams since the daemons "
                       "started):\n"
                       f"slabcached: {a[max(0, at - 100):at + 200]!r}\n"
                       f"memcached:  {b[max(0, at - 100):at + 200]!r}")
            elif opt.verbose:
                tap.diag(f"case {cases}: {data[:100]!r} -> {a[:100]!r}")
            if not pair.ours.alive() or not pair.theirs.alive() or (
                    cases % 50 == 0 and not responsive(pair.ours.port)):
                crashes += 1
                tap.ok(False, f"case {cases}: both daemons alive",
                       pair.ours.logtext())
            if a != b or a is None or crashes:
                # the states may differ now: start again from fresh ones
                log = pair.ours.logpath
                rc = pair.stop()
                if rc != 0:  # a sanitizer's report at exit (leaks) too
                    crashes += 1
                    tap.ok(False, f"case {cases}: slabcached exits cleanly "
                           "(status 0)", f"status {rc}, log in {log}")
                pair = Pair(opt.daemon)
                history = []
                gen.fresh()
            if divergent + hangs + crashes >= 20:
                break
        secs = time.monotonic() - start
        tap.ok(divergent == 0 and hangs == 0 and crashes == 0,
               f"{cases} streams ({sent} commands, seed {opt.seed}, "
               f"{secs:.0f} s): {divergent} divergent, {hangs} hangs, "
               f"{crashes} crashes")
    finally:
        rc = pair.stop()
    tap.ok(rc == 0, "slabcached exits cleanly (status 0) at the end",
           f"status {rc}")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
