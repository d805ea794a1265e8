// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The break that Documentation/abi.rst forbids, for the test to show what
 * it does: struct sc_cache_stats grown in place, under the 0.1 node. A
 * program built against 0.1 passes a buffer of the 0.1 size and gets the
 * new field written past its end.
 */
#include <slabcache.h>
#include <stddef.h>

#include "core/symver.h"

struct sc_cache_stats_0_1;
SC_API int sc_cache_stats_0_1_code(const struct sc_cache *c,
				   struct sc_cache_stats_0_1 *st);
SC_API int sc_cache_stats_in_place(const struct sc_cache *c,
				   struct sc_cache_stats *st);

SC_SYMVER_DEFAULT(sc_cache_stats, "LIBSLABCACHE_0.1")
int sc_cache_stats_in_place(const struct sc_cache *c, struct sc_cache_stats *st)
{
	int err = sc_cache_stats_0_1_code(c, (struct sc_cache_stats_0_1 *)st);

	if (!err)
		st->lookups = st->hits + st->misses;
	return err;
}
