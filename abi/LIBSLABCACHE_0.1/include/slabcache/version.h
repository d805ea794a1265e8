/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slabcache/version.h as released in 0.1 (LIBSLABCACHE_0.1), comments left out:
 * what programs built against 0.1 saw. Frozen: never edit it
 * (Documentation/abi.rst).
 */
#ifndef SLABCACHE_VERSION_H
#define SLABCACHE_VERSION_H
#define SC_VERSION_MAJOR 0
#define SC_VERSION_MINOR 1
#define SC_VERSION_PATCH 0
#define SC_VERSION "0.1.0"
#define SC_ABI_NODE "LIBSLABCACHE_0.1"
#define SC_VERSION_AT_LEAST(major, minor) \
	(SC_VERSION_MAJOR > (major) ||    \
	 (SC_VERSION_MAJOR == (major) && SC_VERSION_MINOR >= (minor)))
#endif
