// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * SIEVE's hand against hits that land while a write walks it. A lookup
 * sets a visited bit without the lock, so its atomic or can land between
 * two steps of an eviction's hand: a write applied at one instant sees
 * such a hit for all of its steps or for none of them. The hand reads an
 * entry's bit only the first time it meets the entry in a write; met
 * again after a wrap, the entry goes, whatever a hit since has set
 * (Documentation/concurrency.rst, "SIEVE's visited bit and S3-FIFO's
 * frequencies"). These tests take the write's steps one by one under the
 * lock and put the hit between them, where a lookup preempted after its
 * probe would have put it.
 */
#include <criterion/criterion.h>

#include "core/cache_internal.h"
#include "core/internal.h"
#include "core/queue.h"
#include "helpers.h"

static struct sc_cache *new_sieve(size_t limit, struct rel *r)
{
	static const struct sc_cache_ops ops = { .release = rel_release };
	struct sc_cache_config cfg = { .name = "sieve",
				       .limit = limit,
				       .ops = &ops,
				       .priv = r,
				       .flags = SC_CACHE_POLICY_SIEVE |
						SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);

	cr_assert_not_null(c);
	return c;
}

/* Limit 10: "a" (4), "b" (4) and "c" (1), oldest first, none visited. */
static struct sc_cache *new_abc(struct rel *r)
{
	struct sc_cache *c;

	rel_init(r, 8);
	c = new_sieve(10, r);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(0), 4), 0);
	cr_assert_eq(sc_cache_insert(c, "b", VAL(1), 4), 0);
	cr_assert_eq(sc_cache_insert(c, "c", VAL(2), 1), 0);
	return c;
}

/*
 * The failing history of cache_lin_mt/sieve, step by step: "a" (4) and
 * "b" (4) visited, "c" (1) not, oldest first; a write that must free 2
 * clears a and b, takes c, wraps, and takes a, whose bit it cleared. A
 * get of "a" that probed before the write and sets the bit after the
 * first pass must not save a at the second: b would go instead, a
 * result that neither order of the hit and the write gives.
 */
Test(cache_sieve, hit_after_the_hand_passed_is_not_seen_again)
{
	struct sc_queue_walk walk;
	struct sc_entry *a, *v;
	struct rel r;
	struct sc_cache *c;

	c = new_abc(&r);
	cr_assert_eq(sc_cache_find(c, "b"), VAL(1));
	a = sc_cache_get(c, "a"); /* a hit too: a is visited */
	cr_assert_not_null(a);

	sc_cache_lock(c);
	__sc_queue_walk_begin_locked(c, &walk);
	v = __sc_queue_victim_locked(c, &walk);
	cr_assert_eq(v->value, VAL(2), "a and b visited: c goes first");
	cr_assert_not(sc_entry_flags(a) & SC_ENTRY_VISITED);
	/* the preempted lookup's bit lands now */
	atomic_fetch_or(&a->flags, SC_ENTRY_VISITED);
	/* c leaves, as the eviction unlinks it: the hand wraps to a */
	__sc_queue_del_locked(c, v);
	cr_assert_eq(__sc_queue_victim_locked(c, &walk), a,
		     "the hand met a twice in one write and passed it again");
	/* c back as the newest, so that the cache is whole again */
	atomic_fetch_and(&v->flags, (uint8_t)~SC_ENTRY_UNLINKED);
	__sc_queue_add_locked(c, v);
	sc_cache_unlock(c);
	end_with_pins(c, &r, &a, 1, 3);
}

/*
 * A bit that lands before the hand first meets its entry is seen: that
 * hit is ordered before the write, and the hand passes its entry. The
 * rule above drops only bits set after this write cleared them.
 */
Test(cache_sieve, hit_before_the_hand_comes_is_seen)
{
	struct sc_queue_walk walk;
	struct sc_entry *b, *v;
	struct rel r;
	struct sc_cache *c;

	c = new_abc(&r);
	cr_assert_eq(sc_cache_find(c, "a"), VAL(0));
	b = sc_cache_get(c, "b");
	cr_assert_not_null(b);

	sc_cache_lock(c);
	atomic_fetch_and(&b->flags, (uint8_t)~SC_ENTRY_VISITED);
	__sc_queue_walk_begin_locked(c, &walk);
	/* the hit on b lands after the write began, before the hand came */
	atomic_fetch_or(&b->flags, SC_ENTRY_VISITED);
	v = __sc_queue_victim_locked(c, &walk);
	cr_assert_eq(v->value, VAL(2), "a and b visited: c goes");
	cr_assert_not(sc_entry_flags(b) & SC_ENTRY_VISITED);
	sc_cache_unlock(c);
	end_with_pins(c, &r, &b, 1, 3);
}
