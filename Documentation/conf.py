# SPDX-License-Identifier: LGPL-2.1-or-later
# Sphinx configuration: make htmldocs (HTML), make man (sections 1 and 7).
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
srctree = os.path.dirname(here)
sys.path.insert(0, os.path.join(here, "sphinx"))

project = "slabcache"
author = "the slabcache authors"
copyright = "the slabcache authors; LGPL-2.1-or-later"
with open(os.path.join(srctree, "VERSION")) as f:
    release = f.read().strip()
version = ".".join(release.split(".")[:2])

extensions = ["kerneldoc"]
kerneldoc_bin = os.environ.get(
    "KERNEL_DOC", "/usr/lib/linux-kbuild-6.1/scripts/kernel-doc")
kerneldoc_srctree = srctree

master_doc = "index"
exclude_patterns = ["examples", "sphinx"]
primary_domain = "c"
highlight_language = "none"
# The export macros of include/slabcache/export.h, as the C domain sees
# them in the prototypes kernel-doc hands on.
c_id_attributes = ["SC_API"]
c_paren_attributes = ["SC_PRINTF"]

html_theme = "alabaster"
html_title = f"slabcache {release}"
html_show_sourcelink = False

# Section 1 and 7 pages; section 3 comes from the headers through
# kernel-doc -man (scripts/kernel-doc-man.py).
man_pages = [
    ("man/slabcached", "slabcached",
     "memcached-compatible cache daemon that sheds memory under pressure",
     [], 1),
    ("man/slabcache", "slabcache",
     "slab-backed, cost-bounded object cache that gives memory back "
     "under pressure", [], 7),
]
man_show_urls = False
