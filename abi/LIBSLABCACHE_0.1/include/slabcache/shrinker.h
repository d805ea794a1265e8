/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slabcache/shrinker.h as released in 0.1 (LIBSLABCACHE_0.1), comments left out:
 * what programs built against 0.1 saw. Frozen: never edit it
 * (Documentation/abi.rst).
 */
#ifndef SLABCACHE_SHRINKER_H
#define SLABCACHE_SHRINKER_H
#include <stdarg.h>
#include <slabcache/export.h>
#ifdef __cplusplus
extern "C" {
#endif
enum sc_pressure_level {
	SC_PRESSURE_NONE = 0,
	SC_PRESSURE_LOW,
	SC_PRESSURE_MEDIUM,
	SC_PRESSURE_CRITICAL,
};
struct sc_shrink_control {
	unsigned long nr_to_scan;
	unsigned long nr_scanned;
	enum sc_pressure_level level;
};
#define SC_SHRINK_EMPTY (~0UL - 1)
#define SC_SHRINK_STOP (~0UL)
#define SC_DEFAULT_SEEKS 2
struct sc_shrinker {
	unsigned long (*count_objects)(struct sc_shrinker *,
				       struct sc_shrink_control *);
	unsigned long (*scan_objects)(struct sc_shrinker *,
				      struct sc_shrink_control *);
	long batch;
	int seeks;
	void *private_data;
};
SC_API struct sc_shrinker *sc_shrinker_alloc(unsigned int flags,
					     const char *fmt, ...)
	SC_PRINTF(2, 3);
SC_API void sc_shrinker_register(struct sc_shrinker *s);
SC_API void sc_shrinker_free(struct sc_shrinker *s);
SC_API unsigned long sc_shrink_memory(enum sc_pressure_level level);
#ifdef __cplusplus
}
#endif
#endif
