// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A rehearsal of the rule in Documentation/abi.rst, on this build's own
 * library: release "0.2" appends a field (lookups) to struct
 * sc_cache_stats. Compiled against headers with the grown struct; linked
 * with this build's objects, in which the 0.1 sc_cache_stats has been
 * renamed sc_cache_stats_0_1_code, and with a version script that adds
 *
 *	LIBSLABCACHE_0.2 { global: sc_cache_stats; } LIBSLABCACHE_0.1;
 *
 * Programs linked against 0.1 keep the 0.1 definition, which writes only
 * the 0.1 size; programs built against the grown header get the new one.
 */
#include <slabcache.h>
#include <stddef.h>
#include <string.h>

#include "core/symver.h"

/* struct sc_cache_stats as it was in 0.1: kept, frozen, for the old node */
struct sc_cache_stats_0_1 {
	unsigned long long hits, misses, inserts, replaces, removes;
	unsigned long long evictions;
	unsigned long long shrunk;
	unsigned long long insert_failures;
	size_t count, total_cost, limit;
	size_t key_slots;
	size_t pinned;
};
_Static_assert(offsetof(struct sc_cache_stats, lookups) ==
		       sizeof(struct sc_cache_stats_0_1),
	       "fields are only ever appended");

/* The 0.1 code of this build, under its new name. */
SC_API int sc_cache_stats_0_1_code(const struct sc_cache *c,
				   struct sc_cache_stats_0_1 *st);
SC_API int sc_cache_stats_v0_2(const struct sc_cache *c,
			       struct sc_cache_stats *st);
SC_API int sc_cache_stats_v0_1(const struct sc_cache *c,
			       struct sc_cache_stats_0_1 *st);

SC_SYMVER_DEFAULT(sc_cache_stats, "LIBSLABCACHE_0.2")
int sc_cache_stats_v0_2(const struct sc_cache *c, struct sc_cache_stats *st)
{
	struct sc_cache_stats_0_1 old;
	int err;

	if (!st)
		return sc_cache_stats_0_1_code(c, NULL);
	err = sc_cache_stats_0_1_code(c, &old);
	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	memcpy(st, &old, sizeof(old));
	st->lookups = old.hits + old.misses;
	return 0;
}

SC_SYMVER_COMPAT(sc_cache_stats, "LIBSLABCACHE_0.1")
int sc_cache_stats_v0_1(const struct sc_cache *c, struct sc_cache_stats_0_1 *st)
{
	struct sc_cache_stats full;
	int err;

	if (!st)
		return sc_cache_stats_v0_2(c, NULL);
	err = sc_cache_stats_v0_2(c, &full);
	if (!err)
		memcpy(st, &full, sizeof(*st));
	return err;
}
