#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 57
# timeout: 600
"""memcached 1.6.18's own test suite (t/*.t, Perl) against slabcached.

The suite starts "$builddir/timedrun 600 $builddir/memcached-debug <args>"
with $builddir its working directory. This runner makes such a directory:
t/ from memcached's source (mcsuite-fetch.sh fetches Debian's source
package), a timedrun that just runs its command (each file here has its own
timeout), and a memcached-debug that runs slabcached with memcached's
options, less the ones that tune memcached's internals (its LRU maintainer
and crawler, slab mover, hash table, logger buffers, privilege sandbox):
the option shim. memcached-debug's "debugtime" command is slabcached's
too, with SLABCACHED_DEBUG_COMMANDS=1.

Each file is one TAP line: ok, not ok, "# SKIP" for what slabcached does
not do by design (UDP, extstore, TLS, SASL, the proxy, warm restart, and a
source-tree lint), and "# TODO <reason>" for a file that fails for a
reason written in Documentation/slabcached.rst (a TODO that passes says
so). A file that fails with no written reason fails the run.

Usage: mcsuite.py [--subset | --all] [--src DIR] [--jobs N] [FILE.t ...]
  --subset  the files run by make check (under 3 minutes); the default
            without FILE arguments, with --jobs 2, as the scenario runner
            runs it
  --all     every file
  --src     memcached's source (default: $MCSUITE_SRC, or fetched into
            ~/.cache/slabcache, $XDG_CACHE_HOME/slabcache)
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import sdtest

HERE = os.path.dirname(os.path.abspath(__file__))

# Not slabcached's features, by design (Documentation/slabcached.rst).
EXCLUDED = {
    "udp.t": "UDP (off by default in memcached since 1.5.6)",
    "binary-extstore.t": "extstore",
    "chunked-extstore.t": "extstore",
    "error-extstore.t": "extstore",
    "extstore-buckets.t": "extstore",
    "extstore-jbod.t": "extstore",
    "extstore.t": "extstore",
    "ssl_cert_refresh.t": "TLS",
    "ssl_ports.t": "TLS",
    "ssl_proto_version.t": "TLS",
    "ssl_session_resumption.t": "TLS",
    "ssl_settings.t": "TLS",
    "ssl_verify_modes.t": "TLS",
    "binary-sasl.t": "SASL",
    "ascii-auth.t": "SASL (ASCII authentication)",
    "proxy.t": "the proxy",
    "restart.t": "warm restart",
    "whitespace.t": "a lint of memcached's own source tree",
}

# Files that fail for a reason written in Documentation/slabcached.rst
# ("memcached's test suite"): {file: reason}.
KNOWN = {
    "64bit.t": "it fakes 4 GB of slab memory already allocated through "
               "memcached-debug's T_MEMD_INITIAL_MALLOC hook",
    "conn-limits.t": "-o read_buf_mem_limit is a cap on memcached's pooled "
                     "read and response objects; slabcached bounds each "
                     "connection's buffers instead",
    "dyn-maxbytes.t": "one check expects a store after cache_memlimit grows "
                      "to take a new 1 MiB page; slabcached's evictions "
                      "left free slots in the class's slab, which it "
                      "reuses",
    "issue_67.t": "UDP ports (-U), and -p 0 with nothing else to listen "
                  "on, which slabcached refuses",
    "lru.t": "-m counts the index too: 63 items of about 1 MB fit in "
             "-m 64, where memcached fits 64, so the evictions differ",
    "lru-crawler.t": "the lru_crawler command (memcached's crawler and its "
                     "metadump)",
    "lru-maintainer.t": "memcached's segmented LRU (hot, warm, cold and "
                        "temporary LRUs)",
    "slabs_reassign.t": "memcached's slab mover (slabs reassign)",
    "slabs-reassign2.t": "memcached's slab mover and global page pool",
    "slabs-reassign-chunked.t": "memcached's slab mover and global page "
                                "pool",
    "stats-conns.t": "one check is of the UDP listener",
    "watcher.t": "the watch command (memcached's logger)",
    "watcher_connid.t": "the watch command (memcached's logger)",
}

# make check's subset: the protocol files, quick ones (under 3 minutes
# together on 2 cores).
SUBSET = [
    "binary.t", "binary-get.t", "bogus-commands.t", "dash-M.t",
    "evictions.t", "expirations.t", "flags.t",
    "getandtouch.t", "incrdecr.t", "issue_104.t", "issue_108.t",
    "issue_152.t", "issue_163.t", "issue_183.t",
    "issue_192.t", "issue_22.t", "issue_29.t", "issue_3.t", "issue_41.t",
    "issue_42.t", "issue_50.t", "issue_61.t", "issue_68.t", "issue_70.t",
    "metaget.t", "multiversioning.t", "noreply.t",
    "quit.t", "stats-detail.t", "stats.t", "strtol-testing.t", "touch.t",
    "unixsocket.t",
]

# memcached's -o options that tune its internals: the shim drops them.
INTERNAL_EXTENDED = {
    "no_lru_crawler", "lru_crawler", "no_lru_maintainer", "lru_maintainer",
    "modern", "no_modern", "slab_reassign", "no_slab_reassign",
    "slab_automove", "slab_automove_window", "slab_automove_ratio",
    "slab_automove_freeratio", "slab_chunk_max", "hashpower",
    "no_hashexpand", "temporary_ttl", "watcher_logbuf_size",
    "worker_logbuf_size", "read_buf_mem_limit", "resp_obj_mem_limit",
    "drop_privileges", "no_drop_privileges", "relaxed_privileges",
    "tail_repair_time", "hash_algorithm", "hot_lru_pct", "warm_lru_pct",
    "hot_max_factor", "warm_max_factor", "lru_crawler_sleep",
    "lru_crawler_tocrawl", "inline_ascii_resp", "track_sizes",
    "no_inline_ascii_resp", "lru_segmented", "no_lru_segmented",
}

TIMEOUT = {"64bit.t": 300, "slabs-reassign2.t": 300, "maxconns.t": 180,
           # they wait on replies to commands slabcached does not have
           "lru-crawler.t": 60, "watcher.t": 30, "watcher_connid.t": 30}
DEFAULT_TIMEOUT = 120

SHIM = r'''#!/usr/bin/env python3
# memcached-debug for memcached's t/ suite: slabcached with memcached's
# options, less those that tune memcached's internals (see mcsuite.py).
import os, sys
INTERNAL = %(internal)r
out, args = [], sys.argv[1:]
i = 0
while i < len(args):
    a = args[i]
    if a in ("-U",) and i + 1 < len(args):
        i += 2          # UDP: off
        continue
    if a == "-o" and i + 1 < len(args):
        keep = [o for o in args[i + 1].split(",")
                if o.split("=", 1)[0] not in INTERNAL]
        if keep:
            out += ["-o", ",".join(keep)]
        i += 2
        continue
    out.append(a)
    i += 1
env = dict(os.environ, SLABCACHED_DEBUG_COMMANDS="1")
os.execve(%(daemon)r, [%(daemon)r, "--pressure=off"] + out, env)
'''

TIMEDRUN = '''#!/bin/sh
# memcached's timedrun <seconds> <command>: each file has its own timeout
shift
exec "$@"
'''


def make_builddir(src, daemon):
    d = tempfile.mkdtemp(prefix="mcsuite-")
    os.symlink(os.path.join(os.path.abspath(src), "t"), os.path.join(d, "t"))
    with open(os.path.join(d, "memcached-debug"), "w") as f:
        f.write(SHIM % {"internal": sorted(INTERNAL_EXTENDED),
                        "daemon": daemon})
    with open(os.path.join(d, "timedrun"), "w") as f:
        f.write(TIMEDRUN)
    for n in ("memcached-debug", "timedrun"):
        os.chmod(os.path.join(d, n), 0o755)
    return d


def run_file(builddir, name):
    """Run one .t; return (passed, planned, ran, failed, seconds, tail)."""
    start = time.monotonic()
    try:
        p = subprocess.run(["perl", os.path.join("t", name)], cwd=builddir,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=TIMEOUT.get(name, DEFAULT_TIMEOUT))
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") + "\n<timeout>"
        rc = -1
    secs = time.monotonic() - start
    plan = re.search(r"^1\.\.(\d+)", out, re.M)
    planned = int(plan.group(1)) if plan else None
    oks = len(re.findall(r"^ok \d+", out, re.M))
    nots = re.findall(r"^not ok \d+.*$", out, re.M)
    skipall = re.search(r"^1\.\.0 # skip(.*)$", out, re.M | re.I)
    passed = rc == 0 and not nots and (planned is None or
                                      oks == planned)
    tail = "\n".join(line[:160] for line in
                     nots[:5] + out.strip().splitlines()[-8:])
    return passed, planned, oks, len(nots), secs, tail, skipall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", action="store_true")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--src")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("files", nargs="*")
    opts = ap.parse_args()
    if not opts.files and not opts.all and not opts.subset:
        opts.subset = True
        opts.jobs = max(opts.jobs, 2)

    tap = sdtest.Tap()
    if not shutil.which("perl"):
        tap.skip("memcached's t/ suite", "perl not installed")
        return tap.done()
    src = opts.src or os.environ.get("MCSUITE_SRC")
    if not src:
        # a download cache, outside the build tree (whose *.d files the
        # Makefile reads)
        dest = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                            os.path.join(os.path.expanduser("~"), ".cache"),
                            "slabcache")
        p = subprocess.run(["sh", os.path.join(HERE, "mcsuite-fetch.sh"),
                            dest], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            tap.skip("memcached's t/ suite", "cannot fetch memcached's "
                     "source: " + p.stderr.decode().strip()[-200:])
            return tap.done()
        src = p.stdout.decode().strip().splitlines()[-1]
    daemon = os.path.abspath(sdtest.daemon_path())
    if not os.access(daemon, os.X_OK):
        sdtest.die(f"no daemon at {daemon}")
    files = opts.files or (SUBSET if opts.subset else sorted(
        f for f in os.listdir(os.path.join(src, "t")) if f.endswith(".t")))
    builddir = make_builddir(src, daemon)
    counts = {"pass": 0, "fail": 0, "known": 0, "skip": 0}
    try:
        todo = [f for f in files if f not in EXCLUDED]
        for f in files:
            if f in EXCLUDED:
                tap.skip(f"t/{f}", f"not in slabcached: {EXCLUDED[f]}")
                counts["skip"] += 1
        with ThreadPoolExecutor(max(1, opts.jobs)) as ex:
            results = list(ex.map(lambda f: (f, run_file(builddir, f)),
                                  todo))
        for f, (ok, planned, ran, failed, secs, tail, skipall) in results:
            desc = f"t/{f} ({ran}/{planned} in {secs:.0f} s)"
            if skipall:
                tap.skip(f"t/{f}", "the file skips itself:" +
                         skipall.group(1))
                counts["skip"] += 1
            elif f in KNOWN:
                counts["known" if not ok else "pass"] += 1
                state = "ok" if ok else "not ok"
                tap.n += 1
                print(f"{state} {tap.n} - {desc} # TODO {KNOWN[f]}",
                      flush=True)
                if ok:
                    tap.diag(f"t/{f} passes now: drop it from KNOWN")
            else:
                counts["pass" if ok else "fail"] += 1
                tap.ok(ok, desc, tail)
    finally:
        shutil.rmtree(builddir, ignore_errors=True)
    tap.diag(f"files: {counts['pass']} pass, {counts['fail']} fail, "
             f"{counts['known']} fail for a written reason, "
             f"{counts['skip']} skipped")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
