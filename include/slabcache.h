/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHE_H
#define SLABCACHE_H

/*
 * slabcache: a slab-backed, cost-bounded object cache that gives memory
 * back when the system is under pressure. This umbrella header pulls in the
 * whole public interface.
 */
#include <slabcache/export.h>
#include <slabcache/version.h>
#include <slabcache/slab.h>
#include <slabcache/cache.h>
#include <slabcache/shrinker.h>
#include <slabcache/pressure.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_version_string() - The library's version.
 *
 * Context: Any thread.
 * Return: A static string such as "0.1.0"; the version of the library
 * actually loaded, which may differ from %SC_VERSION of the headers
 * (<slabcache/version.h>).
 */
SC_API const char *sc_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* SLABCACHE_H */
