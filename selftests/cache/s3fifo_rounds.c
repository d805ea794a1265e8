// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * S3-FIFO's rounds of the main queue against hits that land while a
 * write walks them. A lookup raises an entry's frequency without the
 * lock, so its compare-and-swap can land between two rounds of one
 * eviction: a write applied at one instant sees such a hit in all of its
 * rounds or in none. Below the cap of 7 a landing counts as a hit before
 * the write (one more, one round later); on an entry the write met at 7
 * it must not count at all (Documentation/concurrency.rst, "SIEVE's
 * visited bit and S3-FIFO's frequencies"). These tests take the write's
 * victims one by one under the lock and put the hit between them, where a
 * lookup preempted after its probe would have put it.
 */
#include <criterion/criterion.h>

#include "core/cache_internal.h"
#include "core/internal.h"
#include "core/queue.h"
#include "helpers.h"

static unsigned int freq_of(const struct sc_entry *e)
{
	return (sc_entry_flags(e) & SC_ENTRY_FREQ) / SC_ENTRY_FREQ_ONE;
}

/*
 * Limit 100, S3-FIFO: "a" (4), "b" (4) and "c" (1), moved to the main
 * queue in that order (a oldest) with frequencies @fa, @fb and 0, the
 * small queue empty, so that every victim comes from M. *@a and *@b are
 * pinned.
 */
static struct sc_cache *new_main_abc(struct rel *r, unsigned int fa,
				     unsigned int fb, struct sc_entry **a,
				     struct sc_entry **b)
{
	const unsigned int freq[] = { fa, fb, 0 };
	struct sc_entry *e[3];
	struct sc_cache *c;

	rel_init(r, 8);
	c = mk_cache_flags(100, r, SC_CACHE_POLICY_S3FIFO);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(0), 4), 0);
	cr_assert_eq(sc_cache_insert(c, "b", VAL(1), 4), 0);
	cr_assert_eq(sc_cache_insert(c, "c", VAL(2), 1), 0);
	cr_assert_not_null(e[0] = sc_cache_get(c, "a"));
	cr_assert_not_null(e[1] = sc_cache_get(c, "b"));
	cr_assert_not_null(e[2] = sc_cache_get(c, "c"));
	sc_cache_lock(c);
	for (int i = 0; i < 3; i++) {
		uint8_t f = sc_entry_flags(e[i]);

		__sc_queue_del_locked(c, e[i]);
		f &= (uint8_t) ~(SC_ENTRY_FREQ | SC_ENTRY_UNLINKED);
		f |= (uint8_t)(SC_ENTRY_MAIN | freq[i] * SC_ENTRY_FREQ_ONE);
		atomic_store(&e[i]->flags, f);
		__sc_queue_add_locked(c, e[i]);
	}
	sc_cache_unlock(c);
	sc_entry_put(e[2]);
	assert_cache_sane(c);
	*a = e[0];
	*b = e[1];
	return c;
}

/*
 * A write begins (the lock taken) and its first victim is "c" (frequency
 * 0), after one round that lowered a and b; c leaves as an eviction
 * unlinks it, and the write goes on to its second victim, the lock held.
 * Return: c, to be linked back by put_back().
 */
static struct sc_entry *first_victim_c(struct sc_cache *c,
				       struct sc_queue_walk *walk)
{
	struct sc_entry *v;

	sc_cache_lock(c);
	__sc_queue_walk_begin_locked(c, walk);
	v = __sc_queue_victim_locked(c, walk);
	cr_assert_eq(v->value, VAL(2), "c has no hits: it goes first");
	__sc_queue_del_locked(c, v);
	return v;
}

/* @v back as M's newest, so that the cache is whole again. */
static void put_back(struct sc_cache *c, struct sc_entry *v)
{
	atomic_fetch_and(&v->flags, (uint8_t)~SC_ENTRY_UNLINKED);
	__sc_queue_add_locked(c, v);
}

/* One write over a, b and c, from rounds_begin() to rounds_end(). */
struct rounds {
	struct sc_queue_walk walk;
	struct sc_entry *a, *b, *v;
	struct sc_cache *c;
	struct rel r;
};

/* A cache of a at @fa, b at @fb and c, and a write past its victim c. */
static void rounds_begin(struct rounds *t, unsigned int fa, unsigned int fb)
{
	t->c = new_main_abc(&t->r, fa, fb, &t->a, &t->b);
	t->v = first_victim_c(t->c, &t->walk);
}

/*
 * End the write: c back, the lock dropped, then end_with_pins() with
 * the pins of a and b.
 */
static void rounds_end(struct rounds *t)
{
	struct sc_entry *pins[] = { t->a, t->b };

	put_back(t->c, t->v);
	sc_cache_unlock(t->c);
	end_with_pins(t->c, &t->r, pins, 2, 3);
}

/*
 * a and b at 7: the write lowers both once a round, and a goes at the
 * eighth meeting. A hit on a that probed before the write and lands
 * after the first round must not keep a one round longer: b would go
 * instead, which neither order gives (before the write the hit is lost to
 * the cap, after it the write does not see it).
 */
Test(cache_s3fifo_rounds, hit_on_a_capped_entry_between_rounds_is_not_seen)
{
	struct rounds t;

	rounds_begin(&t, 7, 7);
	cr_assert_eq(freq_of(t.a), 6);
	cr_assert_eq(freq_of(t.b), 6);
	/* the preempted lookup's hit lands now */
	atomic_fetch_add(&t.a->flags, SC_ENTRY_FREQ_ONE);
	cr_assert_eq(__sc_queue_victim_locked(t.c, &t.walk), t.a,
		     "a was at 7 when the write met it: it goes first");
	cr_assert_eq(freq_of(t.b), 0,
		     "b was lowered in each of the seven rounds");
	rounds_end(&t);
}

/*
 * a at 5, b at 7: a landing on a between rounds counts, as a hit before
 * the write would (a at 6): a goes in the round after b was lowered a
 * sixth time, not the one before.
 */
Test(cache_s3fifo_rounds, hit_below_the_cap_between_rounds_counts)
{
	struct rounds t;

	rounds_begin(&t, 5, 7);
	cr_assert_eq(freq_of(t.a), 4);
	atomic_fetch_add(&t.a->flags, SC_ENTRY_FREQ_ONE);
	cr_assert_eq(__sc_queue_victim_locked(t.c, &t.walk), t.a);
	cr_assert_eq(
		freq_of(t.b), 1,
		"a counted its hit: b was lowered once more before a went");
	rounds_end(&t);
}

/*
 * Without hits landing, a write's rounds are S3-FIFO's exactly: entries
 * at 7 are lowered seven times and the oldest goes at its eighth meeting,
 * and a write that goes on past that lowers none below 0.
 */
Test(cache_s3fifo_rounds, rounds_without_hits_are_exact)
{
	struct rounds t;

	rounds_begin(&t, 7, 7);
	cr_assert_eq(__sc_queue_victim_locked(t.c, &t.walk), t.a);
	cr_assert_eq(freq_of(t.a), 0);
	cr_assert_eq(freq_of(t.b), 0);
	/* a leaves; b is the next victim at once */
	__sc_queue_del_locked(t.c, t.a);
	cr_assert_eq(__sc_queue_victim_locked(t.c, &t.walk), t.b);
	put_back(t.c, t.a);
	rounds_end(&t);
}
