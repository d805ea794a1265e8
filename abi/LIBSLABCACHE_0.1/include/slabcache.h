/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slabcache.h as released in 0.1 (LIBSLABCACHE_0.1), comments left out:
 * what programs built against 0.1 saw. Frozen: never edit it
 * (Documentation/abi.rst).
 */
#ifndef SLABCACHE_H
#define SLABCACHE_H
#include <slabcache/export.h>
#include <slabcache/version.h>
#include <slabcache/slab.h>
#include <slabcache/cache.h>
#include <slabcache/shrinker.h>
#include <slabcache/pressure.h>
#ifdef __cplusplus
extern "C" {
#endif
SC_API const char *sc_version_string(void);
#ifdef __cplusplus
}
#endif
#endif
