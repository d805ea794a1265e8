// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Empty slabs kept for reuse, and their decay: beyond the two newest
 * empty slabs of a shard, a slab that empties stays for the decay time
 * (sc_alloc_set_decay_ms()), so that frees followed by allocations reuse
 * its pages instead of faulting in new ones; older ones go back when a
 * slab of the shard empties or the shard refills a magazine, and all of
 * them at once on a shrink, a pressure pass, a reclaim and a destroy.
 *
 * One thread per test: all its slabs are in its home shard.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "config.h"
#include "alloc/alloc.h"
#include "alloc/block.h"
#include <slabcache/shrinker.h>
#include <slabcache/slab.h>

#include "fill.h"
#include "statm.h"

#define OBJ 1024
#define SLABS 8

static struct sc_slab_info info_of(struct sc_slab *s)
{
	struct sc_slab_info info;

	cr_assert_eq(sc_slab_info(s, &info), 0);
	return info;
}

static size_t block_slabs(void)
{
	struct sc_block_stats st;

	sc_block_get_stats(&st);
	return st.slabs;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts))
		;
}

/* Free @objs[from..to), then flush this thread's magazines (info). */
static void free_range(struct sc_slab *s, void **objs, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		sc_slab_free(s, objs[i]);
	(void)info_of(s);
}

/* With a decay time of @decay_ms, a cache with SLABS slabs of objects. */
static struct sc_slab *filled(unsigned int decay_ms, void ***objs, size_t *n)
{
	struct sc_slab *s;

	sc_alloc_set_decay_ms(decay_ms);
	s = sc_slab_create("decay", OBJ, 0, 0);
	cr_assert_not_null(s);
	*objs = fill_slabs(s, SLABS, n);
	return s;
}

/* A cache whose SLABS slabs have all emptied within the decay time. */
static struct sc_slab *kept_empties(unsigned int decay_ms, void ***objs,
				    size_t *n)
{
	struct sc_slab *s = filled(decay_ms, objs, n);
	struct sc_slab_info info;

	free_range(s, *objs, 0, *n);
	info = info_of(s);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.slabs, SLABS, "all %d kept: %zu", SLABS, info.slabs);
	cr_assert_eq(info.empty_slabs, SLABS);
	return s;
}

Test(alloc_decay, empties_are_reused_within_the_decay_time)
{
	size_t n, out = block_slabs();
	struct sc_slab *s;
	void **objs;

	s = kept_empties(10000, &objs, &n);
	cr_assert_eq(block_slabs(), out + SLABS, "none went to its block");
	for (size_t i = 0; i < n; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	cr_assert_eq(info_of(s).slabs, SLABS, "no new slab");
	cr_assert_eq(info_of(s).empty_slabs, 0);
	free_range(s, objs, 0, n);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * Half the slabs empty, the decay time passes, the other half empty:
 * the first half goes back as the first slab of the second half empties,
 * the second half stays.
 */
Test(alloc_decay, old_empties_go_when_a_slab_empties)
{
	size_t n, out = block_slabs();
	struct sc_slab_info info;
	struct sc_slab *s;
	void **objs;

	s = filled(100, &objs, &n);
	free_range(s, objs, 0, n / 2);
	info = info_of(s);
	cr_assert_eq(info.empty_slabs, SLABS / 2);
	cr_assert_eq(info.slabs, SLABS);
	sleep_ms(250);
	free_range(s, objs, n / 2, n);
	info = info_of(s);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.slabs, SLABS / 2, "the old half went: %zu left",
		     info.slabs);
	cr_assert_eq(info.empty_slabs, SLABS / 2);
	cr_assert_eq(block_slabs(), out + SLABS / 2);
	free(objs);
	sc_slab_destroy(s);
	cr_assert_eq(block_slabs(), out, "destroy gave the rest back");
}

/*
 * A shard that only allocates ages its empty slabs too: once the decay
 * time has passed, the next refill takes the newest and gives back all
 * but the two kept whatever their age.
 */
Test(alloc_decay, old_empties_go_on_refill)
{
	size_t n, out = block_slabs();
	struct sc_slab_info info;
	struct sc_slab *s;
	void **objs, *obj;

	s = kept_empties(100, &objs, &n);
	sleep_ms(250);
	obj = sc_slab_alloc(s);
	cr_assert_not_null(obj);
	/* before sc_slab_info(), whose flush empties a slab (a decay too) */
	cr_assert_leq(block_slabs(), out + 4,
		      "the refill took at most 2, 2 kept: %zu",
		      block_slabs() - out);
	info = info_of(s);
	cr_assert_eq(info.slabs, 3, "1 in use, 2 kept: %zu", info.slabs);
	cr_assert_eq(info.empty_slabs, 2);
	cr_assert_eq(block_slabs(), out + 3);
	sc_slab_free(s, obj);
	free(objs);
	sc_slab_destroy(s);
}

/* Without decay time, slabs beyond the two kept go back as they empty. */
Test(alloc_decay, zero_decay_gives_back_at_once)
{
	size_t n, out = block_slabs();
	struct sc_slab_info info;
	struct sc_slab *s;
	void **objs;

	s = filled(0, &objs, &n);
	free_range(s, objs, 0, n);
	info = info_of(s);
	cr_assert_eq(info.slabs, 2);
	cr_assert_eq(info.empty_slabs, 2);
	cr_assert_eq(block_slabs(), out + 2);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * A cache with SLABS kept empty slabs, then @release: @left of them stay
 * the cache's, the others went back to their blocks.
 */
static void release_kept(void (*release)(struct sc_slab *s), size_t left)
{
	size_t n, out = block_slabs();
	struct sc_slab *s;
	void **objs;

	s = kept_empties(10000, &objs, &n);
	release(s);
	cr_assert_eq(info_of(s).slabs, left);
	cr_assert_eq(block_slabs(), out + left);
	free(objs);
	sc_slab_destroy(s);
}

static void shrink_it(struct sc_slab *s)
{
	cr_assert_eq(sc_slab_shrink(s), SLABS * info_of(s).slab_size);
}

Test(alloc_decay, shrink_gives_back_every_kept_empty)
{
	release_kept(shrink_it, 0);
}

/* A MEDIUM pressure pass (no shrinker registered) reclaims the slabs. */
static void medium_pressure(struct sc_slab *s)
{
	(void)s;
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
}

Test(alloc_decay, pressure_gives_back_every_kept_empty)
{
	release_kept(medium_pressure, 0);
}

/* LOW pressure frees objects through the shrinkers; slabs stay kept. */
static void low_pressure(struct sc_slab *s)
{
	(void)s;
	sc_shrink_memory(SC_PRESSURE_LOW);
}

Test(alloc_decay, low_pressure_keeps_them)
{
	release_kept(low_pressure, SLABS);
}

Test(alloc_decay, destroy_gives_back_every_kept_empty)
{
	struct sc_slab *s;
	size_t n, out = block_slabs();
	void **objs;

	s = kept_empties(10000, &objs, &n);
	cr_assert_eq(block_slabs(), out + SLABS);
	sc_slab_destroy(s);
	cr_assert_eq(block_slabs(), out);
	free(objs);
}

/*
 * A kept slab is reused without an allocation attempt of its own: with
 * the second attempt from now set to fail, a call that needs a new slab
 * fails (the cache stays as it was), a call that finds a kept one
 * does not.
 */
Test(alloc_decay, reuse_needs_no_new_slab_attempt)
{
	struct sc_slab *s, *fresh;
	struct sc_slab_info before, after;
	unsigned long attempts;
	size_t n;
	void **objs, *obj;

	s = kept_empties(10000, &objs, &n);
	fresh = sc_slab_create("fresh", OBJ, 0, 0);
	cr_assert_not_null(fresh);

	before = info_of(fresh);
	sc_fault_inject(2); /* the call passes, its new slab fails */
	errno = 0;
	cr_assert_null(sc_slab_alloc(fresh));
	cr_assert_eq(errno, ENOMEM);
	after = info_of(fresh);
	cr_assert_eq(after.slabs, before.slabs);
	cr_assert_eq(after.alloc_failures, before.alloc_failures + 1);

	before = info_of(s);
	attempts = sc_fault_allocations();
	sc_fault_inject(2);
	obj = sc_slab_alloc(s);
	cr_assert_not_null(obj, "a kept slab serves it");
	cr_assert_eq(sc_fault_allocations(), attempts + 1);
	sc_fault_inject(0);
	after = info_of(s);
	cr_assert_eq(after.slabs, before.slabs);
	cr_assert_eq(after.empty_slabs, before.empty_slabs - 1);
	cr_assert_eq(after.alloc_failures, before.alloc_failures);
	sc_slab_free(s, obj);
	free(objs);
	sc_slab_destroy(fresh);
	sc_slab_destroy(s);
}

/*
 * The resident set follows: 64 MiB freed stays resident through the
 * decay time, for reuse, then goes back with the next refill.
 */
Test(alloc_decay, rss_goes_back_after_the_decay_time)
{
	const size_t bytes = (size_t)64 << 20;
	size_t n = bytes / OBJ, peak, kept, after;
	struct sc_slab *s;
	void **objs, *obj;

	sc_alloc_set_decay_ms(200);
	s = sc_slab_create("decay-rss", OBJ, 0, 0);
	cr_assert_not_null(s);
	objs = calloc(n, sizeof(*objs));
	cr_assert_not_null(objs);
	for (size_t i = 0; i < n; i++) {
		objs[i] = sc_slab_alloc(s);
		cr_assert_not_null(objs[i]);
		memset(objs[i], 0x33, OBJ);
	}
	peak = rss_bytes();
	free_range(s, objs, 0, n);
	kept = rss_bytes();
	cr_assert_gt(kept + bytes / 4, peak, "kept: %zu KiB, peak %zu KiB",
		     kept >> 10, peak >> 10);
	sleep_ms(400);
	obj = sc_slab_alloc(s);
	cr_assert_not_null(obj);
	after = rss_bytes();
	cr_log_info("RSS %zu KiB at peak, %zu KiB kept, %zu KiB after decay",
		    peak >> 10, kept >> 10, after >> 10);
	cr_assert_lt(after + bytes * 3 / 4, peak, "after decay: %zu KiB",
		     after >> 10);
	sc_slab_free(s, obj);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * The budget: empty slabs are kept only within the recent peak of slabs
 * in use, all caches together. A use that stays level (a cache at its
 * limit, evicting one size while another grows) keeps none beyond the
 * two per shard: cache A's slabs empty as cache B takes as many, and go
 * back; a use that falls keeps them (empties_are_reused_...).
 */
Test(alloc_decay, level_use_keeps_no_more_than_two)
{
	struct sc_slab *a, *b;
	struct sc_slab_info info;
	size_t n, per_slab, i;
	void **objs, **bobjs;

	sc_alloc_set_decay_ms(10000);
	a = sc_slab_create("decay-a", OBJ, 0, 0);
	b = sc_slab_create("decay-b", OBJ, 0, 0);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	objs = fill_slabs(a, 4 * SLABS, &n);
	per_slab = n / (4 * SLABS);
	bobjs = calloc(n, sizeof(*bobjs));
	cr_assert_not_null(bobjs);
	/* B takes a slab's worth, then A gives a slab's worth back */
	for (size_t s = 0; s < 4 * SLABS; s++) {
		for (i = s * per_slab; i < (s + 1) * per_slab; i++)
			cr_assert_not_null(bobjs[i] = sc_slab_alloc(b));
		for (i = s * per_slab; i < (s + 1) * per_slab; i++)
			sc_slab_free(a, objs[i]);
	}
	info = info_of(a);
	cr_log_info("A: %zu slabs, %zu empty; B: %zu slabs", info.slabs,
		    info.empty_slabs, info_of(b).slabs);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_leq(info.slabs, 4, "A kept %zu slabs", info.slabs);
	free_range(b, bobjs, 0, n);
	free(bobjs);
	free(objs);
	sc_slab_destroy(a);
	sc_slab_destroy(b);
}

/*
 * A destroyed cache's growth is not owed: its slabs went back with it.
 * Cache A grows and is destroyed; B, created in the same decay period,
 * fills and empties as many slabs and keeps them all for the decay time
 * (they used to go back at once, one flush per 2 MiB, to pay for A's).
 * A cache that is still there keeps its growth owed
 * (level_use_keeps_no_more_than_two).
 */
Test(alloc_decay, destroyed_cache_growth_is_not_owed)
{
	struct sc_slab *a, *b;
	struct sc_slab_info info;
	size_t n;
	void **objs;

	sc_alloc_set_decay_ms(10000);
	a = sc_slab_create("decay-gone", OBJ, 0, 0);
	cr_assert_not_null(a);
	objs = fill_slabs(a, 4 * SLABS, &n);
	free_range(a, objs, 0, n);
	free(objs);
	sc_slab_destroy(a);

	b = sc_slab_create("decay-next", OBJ, 0, 0);
	cr_assert_not_null(b);
	objs = fill_slabs(b, 4 * SLABS, &n);
	free_range(b, objs, 0, n);
	info = info_of(b);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.slabs, 4 * SLABS, "B kept %zu of %d slabs",
		     info.slabs, 4 * SLABS);
	cr_assert_eq(info.empty_slabs, 4 * SLABS);
	free(objs);
	sc_slab_destroy(b);
}
