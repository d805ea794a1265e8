// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * get's fallback under the lock. A lookup without the lock may read an
 * entry that a writer has just dropped (replaced under the same key, or
 * removed); get then takes its slot back, looks again, and after a few
 * tries pins under the cache lock, where a linked entry always holds the
 * cache's reference. The race is too short to hit on demand, so the
 * state is made by hand: a linked entry marked dropped.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/internal.h"
#include "helpers.h"

static void pin_under_lock(bool handle)
{
	struct sc_cache_config cfg = { .name = "pin",
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache_stats st0, st;
	struct sc_cache *c = sc_cache_create(&cfg);
	struct sc_entry *e, *got;
	sc_key_t k = SC_KEY_NONE;

	cr_assert_not_null(c);
	if (handle) {
		k = sc_cache_add(c, VAL(1), 1);
		cr_assert(k.id);
	} else {
		cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	}
	e = handle ? sc_cache_get_key(c, k) : sc_cache_get(c, "a");
	cr_assert_not_null(e);
	sc_entry_put(e);
	cr_assert_eq(sc_cache_insert(c, "b", VAL(2), 1), 0);
	cr_assert_eq(sc_cache_stats(c, &st0), 0);

	/* what a lookup sees while a writer drops the entry */
	atomic_store(&e->refs, SC_REFS_DROPPED);
	got = handle ? sc_cache_get_key(c, k) : sc_cache_get(c, "a");
	cr_assert_eq(got, e, "the lock path did not pin the linked entry");
	cr_assert_eq(atomic_load(&e->refs), SC_REFS_DROPPED | 1,
		     "one counted reference taken, no slot kept");
	atomic_store(&e->refs, 2); /* the cache's and the get's */
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits, st0.hits + 1);
	cr_assert_eq(st.misses, st0.misses);
	/* the hit made it the most recently used: "b" goes first */
	cr_assert_eq(sc_cache_set_limit(c, 1), 0);
	cr_assert_eq(sc_cache_find(c, "b"), NULL);
	cr_assert_eq(sc_entry_value(got), VAL(1));
	sc_entry_put(got);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}

Test(cache_pin, string_key_under_lock)
{
	pin_under_lock(false);
}

Test(cache_pin, handle_under_lock)
{
	pin_under_lock(true);
}
