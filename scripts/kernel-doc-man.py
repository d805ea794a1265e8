#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Section-3 man pages from the public headers' kernel-doc comments, as the
kernel makes its section-9 pages (scripts/kernel-doc -man, split one page
per symbol the way scripts/split-man.pl does), so that the headers stay the
single source.

One page per public function (sc_cache_insert.3) and function-like macro,
one per type (sc_cache_config.3type, sc_key_t.3type), one per documented
constant (SC_CACHE_POLICY_SIEVE.3const). Each page gets a man-pages style
title line, LIBRARY, the #include in SYNOPSIS, and SEE ALSO; references
to other functions become cross-references. DOC: sections are left to the
HTML documentation.

Usage: kernel-doc-man.py --kernel-doc PATH --out DIR --version V
       [--date YYYY-MM-DD] header...
Prints the pages written, one a line.
"""

import argparse
import os
import re
import subprocess
import sys

NAME_RE = re.compile(r"^(?:(struct|union|enum|typedef) )?(\w+) \\- (.*)$")


def pages_of(text):
    chunk = []
    for line in text.splitlines():
        if line.startswith(".TH ") and chunk:
            yield chunk
            chunk = []
        chunk.append(line)
    if chunk:
        yield chunk


def classify(chunk):
    """(name, section) of a kernel-doc -man chunk, or None for a DOC:."""
    try:
        i = chunk.index(".SH NAME")
    except ValueError:
        return None
    m = NAME_RE.match(chunk[i + 1])
    if not m:
        return None
    kind, name = m.group(1), m.group(2)
    if kind:
        return name, "3type"
    if name.isupper() or name[0].isupper():
        function_like = any(ln.startswith('.BI "(') for ln in chunk)
        return name, "3" if function_like else "3const"
    return name, "3"


def rewrite(chunk, name, section, ctx):
    out = [f'.TH {name} {section} {ctx.date} "slabcache {ctx.version}" '
           '"slabcache Manual"']
    body = chunk[1:]
    prev = ""
    for line in body:
        if prev == ".SH NAME":
            # "struct sc_cache_config \- ...": whatis wants the page name
            line = NAME_RE.sub(r"\2 \\- \3", line)
        if line.startswith(".SH SYNOPSIS"):
            out += [".SH LIBRARY",
                    "slabcache library (\\fIlibslabcache\\fP, "
                    "\\fI\\-lslabcache\\fP)",
                    line, ".nf", ".B #include <slabcache.h>", ".fi", ".PP"]
            prev = line
            continue
        if line.startswith('.B "SC_API '):
            line = line.replace('.B "SC_API ', '.B "', 1)
        # a .B line with an unbalanced quote (kernel-doc's macro synopsis)
        if line.startswith(".B \"") and line.count('"') == 1:
            line += '"'
        if line.startswith("* "):
            out += [".IP \\(bu 2"]
            line = line[2:]
        if line == "":
            if prev.startswith(".SH") or prev in ("", ".PP"):
                continue
            line = ".PP"
        # refer to the other pages
        line = re.sub(r"\\fB(\w+)\\fP",
                      lambda m: f"\\fB{m.group(1)}\\fP({ctx.pages[m.group(1)]})"
                      if m.group(1) in ctx.pages and m.group(1) != name
                      else m.group(0), line)
        if line.startswith("'"):
            line = "\\&" + line
        out.append(line)
        prev = line
    while out and out[-1] == ".PP":
        out.pop()
    out += [".SH SEE ALSO", "\\fBslabcache\\fP(7)"]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel-doc", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--date", default=None)
    ap.add_argument("headers", nargs="+")
    ctx = ap.parse_args()
    if not ctx.date:
        # SOURCE_DATE_EPOCH for reproducible packages, else the tree's
        # VERSION file date would do; today is what a plain build gets.
        import time
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
        ctx.date = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    chunks = []
    for h in ctx.headers:
        proc = subprocess.run(["perl", ctx.kernel_doc, "-man", h],
                              capture_output=True, text=True)
        errors = [ln for ln in proc.stderr.splitlines()
                  if not ln.endswith("no structured comments found")]
        if proc.returncode != 0 or errors:
            sys.stderr.write(proc.stderr)
            sys.exit(f"kernel-doc -man {h} failed")
        for c in pages_of(proc.stdout):
            k = classify(c)
            if k:
                chunks.append((k, c))
    ctx.pages = {name: sec for (name, sec), _ in chunks}
    os.makedirs(ctx.out, exist_ok=True)
    for (name, section), c in chunks:
        path = os.path.join(ctx.out, f"{name}.{section}")
        with open(path, "w") as f:
            f.write(rewrite(c, name, section, ctx))
        print(path)


if __name__ == "__main__":
    main()
