// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The invariant checker (core/check.c) that the other suites and the
 * fuzz targets lean on: each invariant it names is broken by hand, one
 * at a time, on a small cache with string keys, handle keys, a freed key
 * slot and a hit log; the checker must name that invariant, and pass
 * again once the field is put back. A checker that misses a corruption
 * would let every test that calls it pass over a broken cache.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/ghost.h"
#include "core/handle.h"
#include "core/index.h"
#include "core/internal.h"
#include "core/queue.h"
#include "helpers.h"

static void expect_broken(struct sc_cache *c, const char *want)
{
	const char *why = NULL;
	int ret = sc_cache_check(c, &why);

	cr_assert_eq(ret, -EUCLEAN, "%s: not detected", want);
	cr_assert_str_eq(why, want);
}

static void expect_ok(struct sc_cache *c, const char *after)
{
	const char *why = NULL;

	cr_assert_eq(sc_cache_check(c, &why), 0, "after %s: %s", after,
		     why ? why : "");
}

/* Set @lv to @bad, check that the checker names @want, put it back. */
#define BREAK(c, lv, bad, want)               \
	do {                                  \
		__typeof__(lv) saved_ = (lv); \
		(lv) = (bad);                 \
		expect_broken((c), (want));   \
		(lv) = saved_;                \
		expect_ok((c), (want));       \
	} while (0)

static struct sc_cache *check_cache(unsigned int policy)
{
	struct sc_cache_config cfg = { .name = "check",
				       .limit = 1000,
				       .flags = SC_CACHE_NO_SHRINKER | policy };
	struct sc_cache *c = sc_cache_create(&cfg);

	cr_assert_not_null(c);
	return c;
}

static struct sc_entry *entry_of(struct sc_lru *l)
{
	return sc_node_entry(l);
}

/* The first entry from the most recently used end with(out) @flag. */
static struct sc_entry *find_entry(struct sc_cache *c, unsigned int flag,
				   bool set)
{
	for (struct sc_lru *l = c->lru.next; l != &c->lru; l = l->next) {
		struct sc_entry *e = entry_of(l);

		if (!!(sc_entry_flags(e) & flag) == set)
			return e;
	}
	cr_assert_fail("no such entry");
	return NULL;
}

static size_t index_slot_of(struct sc_index_table *t, struct sc_entry *e)
{
	for (size_t i = 0; i < t->cap; i++)
		if (sc_slot_is(atomic_load(&t->slots[i]), e))
			return i;
	cr_assert_fail("entry not in the index");
	return 0;
}

Test(cache_check, detects_each_broken_invariant)
{
	struct sc_cache *c = check_cache(0);
	struct sc_index_table *t;
	struct sc_key_table *k;
	struct sc_entry *str, *hdl;
	sc_key_t h, freed;
	size_t slot, empty;

	cr_assert_eq(sc_cache_insert(c, "alpha", VAL(1), 10), 0);
	cr_assert_eq(sc_cache_insert(c, "beta", VAL(2), 20), 0);
	h = sc_cache_add(c, VAL(3), 30);
	freed = sc_cache_add(c, VAL(4), 40);
	cr_assert(h.id && freed.id);
	cr_assert_eq(sc_cache_remove_key(c, freed), 0);
	expect_ok(c, "setup");

	t = atomic_load(&c->index);
	k = atomic_load(&c->keys);
	str = find_entry(c, SC_ENTRY_HANDLE, false);
	hdl = find_entry(c, SC_ENTRY_HANDLE, true);

	/* the cache as a whole */
	BREAK(c, c->hand, c->lru.next, "a hand without SIEVE");
	BREAK(c, c->index_seq, 1, "index shift left unfinished");
	BREAK(c, c->nr_logs, c->nr_logs + 1, "fewer hit logs than counted");
	cr_assert_gt(c->nr_logs, 0, "the creating thread has a hit log");
	BREAK(c, c->nr_logs, 0, "more hit logs than counted");
	BREAK(c, c->count, c->count - 1, "LRU longer than count");
	BREAK(c, c->count, c->count + 1, "count");
	BREAK(c, c->total_cost, c->total_cost + 1, "total cost");
	/* a lower limit, its S3-FIFO shares with it */
	{
		size_t limit = c->limit, small = c->small_max,
		       target = c->small_target, main = c->main_max;

		c->limit = c->total_cost - 1;
		c->small_max = c->limit / 100 * 10 + c->limit % 100 * 10 / 100;
		c->small_target = c->small_max;
		c->main_max = c->limit - c->small_max;
		expect_broken(c, "total cost over the limit");
		c->limit = limit;
		c->small_max = small;
		c->small_target = target;
		c->main_max = main;
		expect_ok(c, "total cost over the limit");
	}
	BREAK(c, c->nr_strings, c->nr_strings + 1, "string entry count");
	BREAK(c, c->nr_batches, SC_LIMBO_BATCHES + 1, "limbo batches");

	/* one entry */
	BREAK(c, sc_entry_lru(str)->prev, sc_entry_lru(str), "LRU links");
	BREAK(c, str->flags, sc_entry_flags(str) | SC_ENTRY_VISITED,
	      "a visited bit without SIEVE");
	BREAK(c, str->flags, sc_entry_flags(str) | SC_ENTRY_UNLINKED,
	      "a linked entry marked unlinked");
	BREAK(c, str->refs, 0, "linked entry without the cache's reference");
	BREAK(c, str->cost, sc_entry_cost_of(str) + 1, "total cost");

	/* the index */
	slot = index_slot_of(t, str);
	BREAK(c, t->slots[slot],
	      atomic_load(&t->slots[slot]) ^ (UINT64_C(1) << SC_SLOT_TAG_SHIFT),
	      "slot tag");
	BREAK(c, t->slots[slot],
	      atomic_load(&t->slots[slot]) ^
		      (UINT64_C(1) << SC_SLOT_DISP_SHIFT),
	      "slot distance");
	BREAK(c, t->slots[slot], 0, "hole before an entry's slot");
	for (empty = 0; atomic_load(&t->slots[empty]); empty++)
		;
	BREAK(c, t->slots[empty], 1, "index occupancy");
	BREAK(c, c->index, NULL, "string entry without an index");

	/* the key array */
	slot = sc_entry_slot(hdl);
	BREAK(c, k->slots[slot].gen, k->slots[slot].gen + 1,
	      "handle entry not in its key slot");
	BREAK(c, c->keys_used, slot, "handle entry not in its key slot");
	BREAK(c, c->keys_used, k->cap + 1, "key array use");
	cr_assert_neq(c->key_free, 0, "the removed handle's slot is free");
	slot = c->key_free - 1;
	BREAK(c, k->slots[slot].word,
	      atomic_load(&k->slots[sc_entry_slot(hdl)].word),
	      "live key slots");
	BREAK(c, k->slots[slot].gen, SC_HANDLE_GEN_MAX + 1, "free key slot");
	BREAK(c, c->key_free, (uint32_t)c->keys_used + 1, "key free list");
	BREAK(c, k->slots[slot].next_free, c->key_free, "key free list");

	sc_cache_destroy(c);
}

/*
 * A second thread registered for read-side sections, idle until let go:
 * while it lives, what a write drops waits in limbo instead of being
 * freed at once (a write is alone only in a one-thread process).
 */
struct idle_reader {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sc_cache *cache;
	bool ready, go;
};

static void *idle_reader_run(void *arg)
{
	struct idle_reader *r = arg;

	sc_cache_contains(r->cache, "idle");
	pthread_mutex_lock(&r->lock);
	r->ready = true;
	pthread_cond_broadcast(&r->cond);
	while (!r->go)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void idle_reader_start(struct idle_reader *r, struct sc_cache *c)
{
	*r = (struct idle_reader){ .cache = c };
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	cr_assert_eq(pthread_create(&r->thread, NULL, idle_reader_run, r), 0);
	pthread_mutex_lock(&r->lock);
	while (!r->ready)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

static void idle_reader_stop(struct idle_reader *r)
{
	pthread_mutex_lock(&r->lock);
	r->go = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

/* A cost of 65,535 or more sits after the key, and is checked there. */
Test(cache_check, detects_a_broken_spilled_cost)
{
	struct sc_cache_config cfg = { .name = "check",
				       .limit = SIZE_MAX,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	struct sc_entry *big;
	size_t *spilled;

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "big", VAL(1), 1 << 20), 0);
	cr_assert_eq(sc_cache_insert(c, "small", VAL(2), 10), 0);
	expect_ok(c, "setup");
	big = entry_of(c->lru.prev);
	cr_assert_eq(big->cost, SC_COST_SPILLED);
	cr_assert_eq(sc_entry_cost_of(big), 1 << 20);
	spilled = (size_t *)(big->key + sc_entry_cost_offset(false, 3));
	BREAK(c, *spilled, SIZE_MAX, "cost sum overflows");
	BREAK(c, *spilled, (1 << 20) + 1, "total cost");
	BREAK(c, big->cost, 10, "total cost");
	sc_cache_destroy(c);
}

Test(cache_check, detects_broken_hit_logs)
{
	struct idle_reader reader;
	struct sc_cache *c = check_cache(0);
	struct sc_entry *e, *gone, **hit, *was;
	struct sc_hitlog *l;
	const char *why;
	unsigned int flags;

	cr_assert_eq(sc_cache_insert(c, "alpha", VAL(1), 10), 0);
	cr_assert_eq(sc_cache_find(c, "alpha"), VAL(1));
	l = c->logs;
	cr_assert_not_null(l);
	BREAK(c, l->tail, atomic_load(&l->head) + 1,
	      "hit log consumed past its head");
	cr_assert_gt(atomic_load(&l->head), atomic_load(&l->tail),
		     "the hit is still logged");
	e = entry_of(c->lru.next);
	/* the logs are checked first: the logged hit names the entry */
	BREAK(c, sc_entry_lru(e)->prev, sc_entry_lru(e),
	      "a logged LRU hit on an entry off the list");
	/* marked as gone, in no limbo list, no reference: freed memory */
	flags = sc_entry_flags(e);
	atomic_store(&e->flags, flags | SC_ENTRY_UNLINKED);
	atomic_store(&e->refs, 0);
	expect_broken(c, "a logged hit on a freed entry");
	/* the same entry still pinned by a get: not freed */
	atomic_store(&e->refs, 1);
	cr_assert_eq(sc_cache_check(c, &why), -EUCLEAN);
	cr_assert_str_eq(why, "a linked entry marked unlinked");
	atomic_store(&e->flags, flags);
	expect_ok(c, "a logged hit on a freed entry");
	/*
	 * A logged hit on an entry waiting in limbo is no corruption: it
	 * is not freed before a grace period, and the drain skips it. Such
	 * a hit comes from a lookup racing the removal; here the pending hit
	 * is pointed at a removed entry by hand, and that entry is moved
	 * through each of limbo's lists (the open batch, a closed batch, the
	 * pending list): the checker must find it in each.
	 */
	cr_assert_eq(sc_cache_insert(c, "beta", VAL(2), 10), 0);
	idle_reader_start(&reader, c);
	gone = sc_cache_get(c, "beta");
	cr_assert_not_null(gone);
	sc_entry_put(gone);
	cr_assert_eq(sc_cache_remove(c, "beta"), 0);
	/* dropped alone: it waits among the open batch's singles */
	cr_assert_eq(c->open.singles, gone, "the removed entry waits");
	cr_assert_null(sc_entry_next_collected(gone));
	/* the removal applied the pending hit: log one more */
	cr_assert_eq(sc_cache_find(c, "alpha"), VAL(1));
	cr_assert_gt(atomic_load(&l->head), atomic_load(&l->tail));
	hit = &l->rchunk->hits[l->rpos];
	was = *hit;
	*hit = gone;
	expect_ok(c, "a hit on a single entry in the open batch");
	c->open.singles = NULL;
	c->open.entries = gone;
	expect_ok(c, "a hit on an entry in the open batch");
	c->open.entries = NULL;
	cr_assert_eq(c->nr_batches, 0);
	c->batches[c->batch_first].entries = gone;
	c->nr_batches = 1;
	expect_ok(c, "a hit on an entry in a closed batch");
	c->batches[c->batch_first].entries = NULL;
	c->batches[c->batch_first].singles = gone;
	expect_ok(c, "a hit on a single entry in a closed batch");
	c->nr_batches = 0;
	c->batches[c->batch_first].singles = NULL;
	atomic_store(&c->limbo_pending, gone);
	expect_ok(c, "a hit on an entry waiting to join the open batch");
	atomic_store(&c->limbo_pending, NULL);
	expect_broken(c, "a logged hit on a freed entry");
	c->open.singles = gone;
	*hit = was;
	expect_ok(c, "a hit on an entry in limbo");
	sc_cache_destroy(c);
	idle_reader_stop(&reader);
}

Test(cache_check, detects_broken_sieve_state)
{
	struct sc_cache *c = check_cache(SC_CACHE_POLICY_SIEVE);
	struct sc_lru stray = { &stray, &stray };

	cr_assert_eq(sc_cache_insert(c, "alpha", VAL(1), 10), 0);
	cr_assert_eq(sc_cache_insert(c, "beta", VAL(2), 10), 0);
	expect_ok(c, "setup");
	BREAK(c, c->hand, &stray, "SIEVE hand not on an entry of the queue");
	cr_assert_not_null(c->logs);
	BREAK(c, c->logs->head, 1, "logged hits under SIEVE or S3-FIFO");
	sc_cache_destroy(c);
}

/* A cache's first entry from the newest end of S3-FIFO's main queue. */
static struct sc_entry *main_entry(struct sc_cache *c)
{
	cr_assert_neq(c->main.next, &c->main, "the main queue holds an entry");
	return entry_of(c->main.next);
}

Test(cache_check, detects_broken_s3fifo_state)
{
	struct sc_cache *c = check_cache(SC_CACHE_POLICY_S3FIFO);
	struct sc_entry *small, *main;
	const char *why = NULL;
	char key[16];

	/*
	 * "hot" is found twice before the small queue fills, so that the
	 * eviction from small moves it to main; filling past half the
	 * limit sizes the ghost, and each cold key evicted from small is
	 * remembered there.
	 */
	cr_assert_eq(sc_cache_insert(c, "hot", VAL(0), 50), 0);
	cr_assert_eq(sc_cache_find(c, "hot"), VAL(0));
	cr_assert_eq(sc_cache_find(c, "hot"), VAL(0));
	for (int i = 1; i <= 20; i++) {
		snprintf(key, sizeof(key), "cold%d", i);
		cr_assert_eq(sc_cache_insert(c, key, VAL(i), 50), 0, "%s", key);
	}
	expect_ok(c, "setup");
	cr_assert_not_null(c->ghost,
			   "the ghost is sized from half the limit on");
	cr_assert_gt(c->main_cost, 0);
	cr_assert_gt(c->small_cost, 0);
	main = main_entry(c);
	small = entry_of(c->lru.next);

	/* the ghost */
	BREAK(c, c->flags, c->flags & ~SC_CACHE_POLICY_S3FIFO,
	      "a ghost without S3-FIFO");
	BREAK(c, c->count, 0, "a ghost in an empty cache");
	BREAK(c, c->ghost_sized, c->ghost_sized * 2 + SC_GHOST_WAYS,
	      "ghost size");
	BREAK(c, c->ghost->slots,
	      (__typeof__(c->ghost->slots))((char *)c->ghost->slots + 4),
	      "ghost buckets not aligned");
	BREAK(c, c->ghost->cursor[c->ghost->nr_buckets - 1], SC_GHOST_WAYS,
	      "ghost cursor");
	cr_assert_gt(c->ghost->nr_tag[0], 0, "keys that left S remembered");
	BREAK(c, c->ghost->nr_tag[0], c->ghost->nr_tag[0] - 1,
	      "ghost tag counts");
	BREAK(c, c->ghost->nr_tag[1], c->ghost->nr_tag[1] + 1,
	      "ghost tag counts");

	/* the queues */
	BREAK(c, c->small_max, c->small_max + 1, "S3-FIFO queue shares");
	BREAK(c, c->main_max, c->main_max - 1, "S3-FIFO queue shares");
	BREAK(c, c->small_target, c->limit / 2 + 1, "S3-FIFO queue shares");
	/* an adapted share, with M's share following it, is sound */
	{
		size_t target = c->small_target, main_max = c->main_max;

		c->small_target = c->limit / 2;
		c->main_max = c->limit - c->small_target;
		expect_ok(c, "S's share at half the limit");
		c->small_target = 0;
		c->main_max = c->limit;
		expect_ok(c, "S's share at 0");
		c->small_target = target;
		c->main_max = main_max;
	}
	BREAK(c, small->flags, sc_entry_flags(small) | SC_ENTRY_MAIN,
	      "an entry on the other S3-FIFO queue");
	BREAK(c, main->flags, sc_entry_flags(main) & ~SC_ENTRY_MAIN,
	      "an entry on the other S3-FIFO queue");
	BREAK(c, c->small_cost, c->small_cost + 1, "S3-FIFO queue costs");
	BREAK(c, c->main_cost, c->main_cost - 1, "S3-FIFO queue costs");
	BREAK(c, c->main_count, c->main_count + 1, "S3-FIFO main queue count");
	cr_assert_eq(sc_cache_check(c, &why), 0, "%s", why ? why : "");
	sc_cache_destroy(c);
}

Test(cache_check, detects_s3fifo_state_outside_s3fifo)
{
	struct sc_cache *c = check_cache(0);
	struct sc_lru stray = { &stray, &stray };
	struct sc_entry *e;

	cr_assert_eq(sc_cache_insert(c, "alpha", VAL(1), 10), 0);
	expect_ok(c, "setup");
	e = entry_of(c->lru.next);
	BREAK(c, c->main.next, &stray, "a main queue without S3-FIFO");
	BREAK(c, e->flags, sc_entry_flags(e) | SC_ENTRY_MAIN,
	      "S3-FIFO bits without S3-FIFO");
	BREAK(c, e->flags, sc_entry_flags(e) | SC_ENTRY_FREQ_ONE,
	      "S3-FIFO bits without S3-FIFO");
	BREAK(c, e->flags, sc_entry_flags(e) | 4 * SC_ENTRY_FREQ_ONE,
	      "S3-FIFO bits without S3-FIFO");
	BREAK(c, c->small_target, 0, "S3-FIFO queue shares");
	sc_cache_destroy(c);
}

/*
 * Hits logged past the end of a chunk live in the next one: a log whose
 * link to it is lost names the chunk as missing.
 */
Test(cache_check, detects_a_lost_hit_log_chunk)
{
	struct sc_cache *c = check_cache(0);
	struct sc_hitlog *l;

	cr_assert_eq(sc_cache_insert(c, "alpha", VAL(1), 10), 0);
	for (int i = 0; i < SC_HITLOG_CHUNK + 8; i++)
		cr_assert_eq(sc_cache_find(c, "alpha"), VAL(1));
	l = c->logs;
	cr_assert_not_null(l);
	cr_assert_eq(atomic_load(&l->head) - atomic_load(&l->tail),
		     SC_HITLOG_CHUNK + 8, "every hit still logged");
	cr_assert_neq(l->rchunk, l->wchunk, "the hits span two chunks");
	BREAK(c, l->rchunk->next, NULL, "hit log chunk missing");
	sc_cache_destroy(c);
}
