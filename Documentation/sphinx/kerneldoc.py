# SPDX-License-Identifier: LGPL-2.1-or-later
"""The kernel-doc directive, as the kernel's Documentation/ has it: pull
kernel-doc comments (function and type documentation, DOC: sections) out
of the sources, through the kernel's own scripts/kernel-doc, so that the
prose lives once, beside the code.

    .. kernel-doc:: include/slabcache/cache.h
       :functions: sc_cache_create sc_cache_config

    .. kernel-doc:: core/shrinker.c
       :doc: fork()

Without an option, everything documented in the file is pulled. Paths are
relative to the source tree. kernel-doc's warnings become Sphinx warnings
(errors under -W), and so does a name or DOC: title that is not found.
"""

import os
import re
import subprocess

import sphinx
from docutils import nodes, statemachine
from docutils.parsers.rst import Directive, directives
from sphinx.util import logging
from sphinx.util.docutils import switch_source_input

logger = logging.getLogger(__name__)

LINENO = re.compile(r"^\.\. LINENO ([0-9]+)$")
FUNCTION = re.compile(r"^\.\. c:function:: .*?\b(\w+) \(")
TYPE = re.compile(r"^\.\. c:(struct|union|enum|type):: (\w+)$")


def separate_tags(lines):
    """C has a namespace for struct tags; Sphinx's C domain has not, so
    struct sc_cache_stats and the function sc_cache_stats() would be a
    duplicate declaration. Such a type goes into a "tag" namespace."""
    functions = {m.group(1) for m in map(FUNCTION.match, lines) if m}
    out = []
    pushed = False
    for line in lines:
        if line.startswith(".. c:") and pushed:
            out += [".. c:namespace-pop::", ""]
            pushed = False
        m = TYPE.match(line)
        if m and m.group(2) in functions:
            out += [f".. c:namespace-push:: tag", ""]
            pushed = True
        out.append(line)
    if pushed:
        out += ["", ".. c:namespace-pop::"]
    return out


class KernelDocDirective(Directive):
    required_arguments = 1
    has_content = False
    option_spec = {
        "doc": directives.unchanged_required,
        "functions": directives.unchanged,
    }

    def run(self):
        env = self.state.document.settings.env
        cfg = env.config
        relpath = self.arguments[0]
        path = os.path.join(cfg.kerneldoc_srctree, relpath)
        cmd = ["perl", cfg.kerneldoc_bin, "-rst", "-enable-lineno",
               "-sphinx-version", sphinx.__version__]
        wanted = []
        if "doc" in self.options:
            wanted = [self.options["doc"]]
        elif self.options.get("functions"):
            wanted = self.options["functions"].split()
        for name in wanted:
            cmd += ["-function", name]
        env.note_dependency(os.path.abspath(path))
        where = f"{env.docname}: kernel-doc {relpath}"
        try:
            proc = subprocess.run(cmd + [path], capture_output=True,
                                  text=True, check=False)
        except OSError as e:
            logger.warning(f"{where}: cannot run {cfg.kerneldoc_bin}: {e}")
            return []
        for line in proc.stderr.splitlines():
            logger.warning(f"{where}: {line}")
        if proc.returncode != 0:
            logger.warning(f"{where}: exit status {proc.returncode}")
            return []

        lines = statemachine.string2lines(proc.stdout, 8,
                                          convert_whitespace=True)
        lines = separate_tags(lines)
        body = [ln for ln in lines if ln.strip() and not LINENO.match(ln)]
        if not body:
            logger.warning(f"{where}: nothing documented under "
                           f"{' '.join(wanted) or 'any name'}")
            return []
        result = statemachine.ViewList()
        lineno = 0
        for line in lines:
            m = LINENO.match(line)
            if m:
                lineno = int(m.group(1)) - 1
                continue
            result.append(line, path, lineno)
            lineno += 1

        node = nodes.section()
        with switch_source_input(self.state, result):
            self.state.nested_parse(result, 0, node, match_titles=1)
        return node.children


def setup(app):
    app.add_config_value("kerneldoc_bin", None, "env")
    app.add_config_value("kerneldoc_srctree", None, "env")
    app.add_directive("kernel-doc", KernelDocDirective)
    return {"version": "1.0", "parallel_read_safe": True,
            "parallel_write_safe": True}
