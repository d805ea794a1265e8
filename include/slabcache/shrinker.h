/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHE_SHRINKER_H
#define SLABCACHE_SHRINKER_H

/*
 * Shrinkers, modelled on the kernel's (include/linux/shrinker.h, 6.7 and
 * later): a cache says how many objects it could free (count_objects) and
 * frees some when asked (scan_objects). sc_shrink_memory() asks every
 * registered shrinker, more the higher the pressure level.
 */
#include <stdarg.h>
#include <slabcache/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum sc_pressure_level - How badly memory is needed back.
 * @SC_PRESSURE_NONE: No pressure; nothing is asked.
 * @SC_PRESSURE_LOW: Trim a little: (freeable >> 9) * 4 / seeks, 1/256 of
 *                   what is freeable at the default seeks.
 * @SC_PRESSURE_MEDIUM: Trim a fair share: (freeable >> 6) * 4 / seeks, 1/32
 *                      at the default seeks; then give empty slabs back and
 *                      purge the backend.
 * @SC_PRESSURE_CRITICAL: Free everything freeable, then give memory back.
 */
enum sc_pressure_level {
	SC_PRESSURE_NONE = 0,
	SC_PRESSURE_LOW,
	SC_PRESSURE_MEDIUM,
	SC_PRESSURE_CRITICAL,
};

/**
 * struct sc_shrink_control - Arguments of one shrinker call.
 * @nr_to_scan: Objects to scan this call.
 * @nr_scanned: Set by scan_objects when it scanned a different number.
 * @level: Pressure level of the pass.
 */
struct sc_shrink_control {
	unsigned long nr_to_scan;
	unsigned long nr_scanned;
	enum sc_pressure_level level;
};

/* count_objects: nothing to free */
#define SC_SHRINK_EMPTY (~0UL - 1)
/* scan_objects: cannot make progress now */
#define SC_SHRINK_STOP (~0UL)
#define SC_DEFAULT_SEEKS 2

/**
 * struct sc_shrinker - A shrinker; allocate with sc_shrinker_alloc().
 * @count_objects: How many objects could be freed now; cheap. 0 or
 *                 %SC_SHRINK_EMPTY when none.
 * @scan_objects: Free up to sc->nr_to_scan objects; return the number
 *                freed, or %SC_SHRINK_STOP.
 * @batch: Objects per scan_objects call; 0 (or negative) means 128.
 * @seeks: Cost to recreate an object; %SC_DEFAULT_SEEKS. Higher means
 *         asked for less. 0 means the shrinker's objects cost nothing to
 *         recreate: it is asked for everything freeable at every level.
 *         Negative values mean %SC_DEFAULT_SEEKS.
 * @private_data: For the owner.
 *
 * Fields private to the library follow in memory; never declare one of
 * these yourself.
 */
struct sc_shrinker {
	unsigned long (*count_objects)(struct sc_shrinker *,
				       struct sc_shrink_control *);
	unsigned long (*scan_objects)(struct sc_shrinker *,
				      struct sc_shrink_control *);
	long batch;
	int seeks;
	void *private_data;
};

/**
 * sc_shrinker_alloc() - Allocate a shrinker.
 * @flags: Must be 0.
 * @fmt: printf-style name, shown in debug output.
 *
 * Fill in the callbacks, then sc_shrinker_register().
 *
 * Context: Any thread.
 * Return: The shrinker with seeks %SC_DEFAULT_SEEKS, or NULL with errno
 * %EINVAL (unknown flags, NULL @fmt) or %ENOMEM.
 */
SC_API struct sc_shrinker *sc_shrinker_alloc(unsigned int flags,
					     const char *fmt, ...)
	SC_PRINTF(2, 3);

/**
 * sc_shrinker_register() - Make a shrinker visible to sc_shrink_memory().
 * @s: Shrinker from sc_shrinker_alloc() with both callbacks set.
 *
 * A NULL shrinker, one without callbacks, or one already registered is
 * ignored.
 *
 * Context: Any thread.
 */
SC_API void sc_shrinker_register(struct sc_shrinker *s);

/**
 * sc_shrinker_free() - Unregister and free a shrinker.
 * @s: Shrinker, or NULL (no-op).
 *
 * Waits for a scan of @s running in another thread. May be called from
 * inside another shrinker's callback, or from @s's own callback (it is
 * then not called again and is freed when that callback returns). Two
 * shrinkers whose callbacks free each other at the same time from two
 * threads wait for each other for ever: don't.
 *
 * Context: Any thread.
 */
SC_API void sc_shrinker_free(struct sc_shrinker *s);

/**
 * sc_shrink_memory() - Ask every registered shrinker for memory.
 * @level: Pressure level.
 *
 * The number asked of each shrinker grows with @level and shrinks with its
 * seeks (Documentation/shrinker.rst has the formula); work too small for
 * one batch is carried to the next pass. %SC_PRESSURE_CRITICAL asks for
 * every freeable object. A callback's %SC_SHRINK_STOP, or a zero
 * nr_scanned, ends that shrinker's part of the pass. After a
 * pass at MEDIUM or CRITICAL, empty slabs are given back and the backend
 * purged, so resident memory drops.
 *
 * Context: Any thread; no lock is held across a callback.
 * Return: Objects freed (0 for %SC_PRESSURE_NONE or an unknown level).
 */
SC_API unsigned long sc_shrink_memory(enum sc_pressure_level level);

#ifdef __cplusplus
}
#endif

#endif /* SLABCACHE_SHRINKER_H */
