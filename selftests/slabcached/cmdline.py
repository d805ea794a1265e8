#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 1
"""The command line: every option with a bad value is refused with a
message naming it and exit status 2, before any socket is bound; -h and
-V answer and exit 0; the options that take a value in a form of their
own (sizes with k/m, -B, -f, -D, -o, -a, -l, -v, -k, -r, -b) start a
daemon that serves, and MEMCACHED_PORT_FILENAME names the port it got,
in the foreground too.

Usage: cmdline.py
"""

import os
import re
import subprocess
import tempfile

import sdtest

# (arguments, what stderr must say)
BAD = [
    (["-p", "x"], "bad value 'x' for -p"),
    (["-p", "65536"], "bad value '65536' for -p"),
    (["-U", "x"], "bad value 'x' for -U"),
    (["-U", "11211"], "UDP is not"),
    (["-a", "x"], "bad value 'x' for -a"),
    (["-a", "1000"], "bad value '1000' for -a"),
    (["-m", "0"], "bad value '0' for -m"),
    (["-c", "0"], "bad value '0' for -c"),
    (["-t", "257"], "bad value '257' for -t"),
    (["-R", "0"], "bad value '0' for -R"),
    (["-b", "0"], "bad value '0' for -b"),
    (["-B", "udp"], "bad value 'udp' for -B"),
    (["-I", "1g"], "bad value '1g' for -I"),
    (["-I", "1kb"], "bad value '1kb' for -I"),
    (["-I", "-1"], "bad value '-1' for -I"),
    (["-I", "512"], "bad value '512' for -I"),
    (["-I", "256m"], "bad value '256m' for -I"),
    (["-I", "2m", "-m", "2"], "-I must be at most half of -m"),
    (["-f", "1.01"], "bad value '1.01' for -f"),
    (["-f", "x"], "bad value 'x' for -f"),
    (["-D", "ab"], "bad value 'ab' for -D"),
    (["-o", "idle_timeout=x"], "bad idle_timeout"),
    (["-o", "idle_timeout"], "bad idle_timeout"),
    (["-o", "slab_reassign"], "-o slab_reassign is not supported"),
    (["--pressure=often"], "bad value 'often' for --pressure"),
    (["--idle-timeout=-1"], "bad value '-1' for --idle-timeout"),
    (["--command-timeout=x"], "bad value 'x' for --command-timeout"),
    (["-Z"], "invalid option"),
    (["extra"], "unexpected argument 'extra'"),
]


def refused(tap):
    for args, want in BAD:
        p = subprocess.run([sdtest.daemon_path(), "-p", "0", *args],
                           capture_output=True, text=True, timeout=20)
        tap.ok(p.returncode == 2 and want in p.stderr,
               f"{' '.join(args)}: refused with \"{want}\"",
               (p.returncode, p.stderr[-300:]))


def answers(tap):
    p = subprocess.run([sdtest.daemon_path(), "-V"], capture_output=True,
                       text=True, timeout=20)
    tap.ok(p.returncode == 0 and
           re.match(r"slabcached \S+ \(libslabcache \S+\)\n$", p.stdout),
           "-V: the version, exit 0", (p.returncode, p.stdout))
    p = subprocess.run([sdtest.daemon_path(), "-h"], capture_output=True,
                       text=True, timeout=20)
    tap.ok(p.returncode == 0 and "MEMCACHED_PORT_FILENAME" in p.stdout,
           "-h: the usage on standard output, exit 0", p.returncode)


def accepted(tap):
    with tempfile.TemporaryDirectory() as d:
        pf = os.path.join(d, "ports")
        env = dict(os.environ, MEMCACHED_PORT_FILENAME=pf)
        srv = sdtest.Server.slabcached(
            "-l", "127.0.0.1", "-b", "64", "-B", "ascii", "-f", "1.5",
            "-D", "/", "-v", "-o", "idle_timeout=100,no_maxconns_fast",
            "-o", "maxconns_fast", "-k", "-r", "-I", "512k", "-m", "8",
            "--idle-timeout=100", "--pressure=off", env=env)
        try:
            r = sdtest.exchange(srv.port, b"set a/b 0 0 1\r\nx\r\nget a/b\r\n"
                                b"stats settings\r\n")
            tap.ok(r.startswith(b"STORED\r\nVALUE a/b 0 1\r\nx\r\nEND\r\n")
                   and b"STAT item_size_max 524288\r\n" in r and
                   b"STAT growth_factor 1.50\r\n" in r and
                   b"STAT binding_protocol ascii\r\n" in r and
                   b"STAT detail_enabled yes\r\n" in r and
                   b"STAT idle_timeout 100\r\n" in r,
                   "-l -b -B ascii -f -D -v -o -k -r -I 512k: serves, "
                   "and stats settings shows them", r[-600:])
            text = open(pf).read() if os.path.exists(pf) else ""
            tap.ok(text == f"TCP INET: {srv.port}\n",
                   "MEMCACHED_PORT_FILENAME in the foreground: the port",
                   text)
        finally:
            rc = srv.stop()
        tap.ok(rc == 0, "stops cleanly", rc)
        with tempfile.TemporaryDirectory() as d2:
            env = dict(os.environ,
                       MEMCACHED_PORT_FILENAME=os.path.join(d2, "no", "x"))
            # no port file to learn a kernel-chosen port from
            port = sdtest.free_port()
            srv = sdtest.Server.slabcached("-I", "1m", "--pressure=off",
                                           port=port, env=env)
            try:
                r = sdtest.exchange(port, b"version\r\n")
                log = srv.logtext()
            finally:
                rc = srv.stop()
            tap.ok(r.startswith(b"VERSION ") and rc == 0 and
                   "Failed to open" in log,
                   "a port file it cannot write: says so, serves anyway",
                   (r, log))


def main():
    tap = sdtest.Tap()
    refused(tap)
    answers(tap)
    accepted(tap)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
