#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 12
"""Allocation failures: SLABCACHED_FAULT_INJECT=n makes the nth allocation
of the library fail (sc_fault_inject()). For n = 1, 2, ... until the
commands run untouched: start-up must fail cleanly (exit 1, a message, no
leak or crash) or the daemon must answer each command with its own success
or its documented error, leave a state that matches those answers, keep
serving, and exit 0 (under ASan: no leak).

Usage: fault.py
"""

import os
import socket
import subprocess
import sys

import sdtest

BIG = b"B" * 600000
OOM = b"SERVER_ERROR out of memory storing object"


def start(n):
    """Return (process, port) once it listens, or (process, None) if it
    exited first."""
    env = dict(os.environ, SLABCACHED_FAULT_INJECT=str(n))
    p, port = sdtest.spawn_on_port([sdtest.daemon_path(), "-p", "-1", "-t",
                                    "2", "--pressure=off"], env,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
    if port is None:
        if p.poll() is None:  # no port in 20 s: hung in its start-up
            p.kill()
        return p, None

    def up():
        if p.poll() is not None:
            return True
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            return False
    sdtest.wait_for(up, 20)
    return p, (port if p.poll() is None else None)


def run_commands(port):
    """The commands, their replies, and whether every reply is allowed and
    the final state matches them. Returns (clean, problems)."""
    c = sdtest.Client(port)
    problems = []
    a = n = big = None
    clean = True

    def expect(what, line, allowed):
        nonlocal clean
        if line not in allowed:
            problems.append(f"{what}: {line!r} not in {allowed}")
        if line != allowed[0]:
            clean = False
        return line

    c.send(b"set a 0 0 5\r\nhello\r\n")
    if expect("set a", c.readline(), [b"STORED", OOM]) == b"STORED":
        a = b"hello"
    c.send(b"set n 0 0 2\r\n10\r\n")
    if expect("set n", c.readline(), [b"STORED", OOM]) == b"STORED":
        n = b"10"
    c.send(b"incr n 5\r\n")
    r = c.readline()
    if n is None:
        expect("incr n", r, [b"NOT_FOUND"])
    elif expect("incr n", r, [b"15", b"SERVER_ERROR out of memory"]) == \
            b"15":
        n = b"15"
    c.send(b"append a 0 0 3\r\nxyz\r\n")
    r = c.readline()
    if a is None:
        expect("append a", r, [b"NOT_STORED", OOM])
        clean = False
    elif expect("append a", r, [b"STORED", b"NOT_STORED", OOM]) == \
            b"STORED":
        a += b"xyz"
    c.send(b"set big 0 0 %d\r\n%s\r\n" % (len(BIG), BIG))
    if expect("set big", c.readline(), [b"STORED", OOM]) == b"STORED":
        big = BIG
    for key, want in ((b"a", a), (b"n", n), (b"big", big)):
        got = c.get(key)
        if got != want:
            problems.append(f"get {key!r}: {got!r:.40} but the replies "
                            f"said {want!r:.40}")
    # the injection is one-shot: once a command took the failure, the
    # next one must succeed
    failed_before = not clean
    after = None
    c.send(b"set after 0 0 2\r\nok\r\n")
    if expect("set after", c.readline(), [b"STORED", OOM]) == b"STORED":
        after = b"ok"
    elif failed_before:
        problems.append("set after: failed although an earlier command "
                        "already took the one failure")
    if c.get(b"after") != after:
        problems.append("get after: does not match its set")
    c.close()
    return clean, problems


def main():
    tap = sdtest.Tap()
    init_fail = served = with_error = 0
    bad = []
    clean_runs = 0
    n = 0
    while clean_runs < 5 and n < 1000:
        n += 1
        p, port = start(n)
        if port is None:
            err = p.stderr.read()
            p.wait()
            if p.returncode != 1 or b"Cannot allocate memory" not in err:
                bad.append(f"n={n}: start-up exit {p.returncode}: "
                           f"{err[-300:]!r}")
            init_fail += 1
            continue
        try:
            clean, problems = run_commands(port)
        except Exception as e:  # a dropped connection, a crash
            clean, problems = False, [repr(e)]
        ended = sdtest.terminate(p)
        if ended:
            problems.append(ended)
        if problems:
            bad.append(f"n={n}: " + "; ".join(problems))
        served += 1
        with_error += not clean
        clean_runs = clean_runs + 1 if clean else 0
    tap.ok(init_fail > 0 and not [b for b in bad if "start-up" in b],
           f"start-up: each of the first {init_fail} allocations failing "
           "gives exit 1 and a message", "\n".join(bad))
    tap.ok(served > 5 and not bad,
           f"{served - 5} failing allocations in the commands: each command "
           "answers its success or its documented error, the state "
           "matches the answers, clean exit", "\n".join(bad))
    tap.diag(f"{with_error} runs answered an error; start-up takes "
             f"{init_fail} allocations")
    tap.ok(clean_runs == 5, "the walk reached a run with no failure left "
           f"(n = {n})")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
