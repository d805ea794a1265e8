// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * LRU hits applied lazily. Once a second thread has a hit log, drained
 * hits go into a set of the cache's own instead of moving their entries,
 * and whatever reads the order applies the set first. Each test runs the
 * same operations on a cache in that mode and on one that moves at every
 * drain (one thread only) and compares the two orders entry by entry:
 * they must be the same list.
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "core/cache_internal.h"
#include "core/internal.h"
#include "core/queue.h"
#include "helpers.h"

#define KEY_LEN 16

static void *find_from_main(void *arg)
{
	sc_cache_find(arg, "-");
	return NULL;
}

/* Give @c a second thread's hit log: its hits are applied lazily. */
static void make_shared(struct sc_cache *c)
{
	pthread_t t;

	sc_cache_find(c, "-");
	cr_assert_eq(pthread_create(&t, NULL, find_from_main, c), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert(atomic_load(&c->logs_shared));
}

static struct sc_cache *new_cache(size_t limit)
{
	struct sc_cache_config cfg = { .name = "lazylru",
				       .limit = limit,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);

	cr_assert_not_null(c);
	return c;
}

/* Drain every log: the hits go into the set (lazy) or move (direct). */
static void drain(struct sc_cache *c)
{
	sc_cache_lock(c);
	__sc_queue_sync_locked(c);
	sc_cache_unlock(c);
}

static uint32_t nr_dirty(struct sc_cache *c)
{
	uint32_t n;

	sc_cache_lock(c);
	n = c->nr_dirty;
	sc_cache_unlock(c);
	return n;
}

/*
 * The order, most recently used first, into @keys (at most @max), after
 * the pending hits and the set are applied. Return: the entries walked.
 */
static size_t order_of(struct sc_cache *c, char (*keys)[KEY_LEN], size_t max)
{
	struct sc_lru *l;
	size_t n = 0;

	sc_cache_lock(c);
	__sc_queue_sync_locked(c);
	__sc_queue_oldest_locked(c); /* a reader of the order: applies */
	cr_assert_eq(c->nr_dirty, 0, "the set was applied");
	for (l = c->lru.next; l != &c->lru; l = l->next) {
		struct sc_entry *e = sc_node_entry(l);

		cr_assert_lt(n, max);
		/* keys are not NUL-terminated in the entry */
		snprintf(keys[n++], KEY_LEN, "%.*s", (int)sc_entry_key_len(e),
			 sc_entry_key(e));
	}
	sc_cache_unlock(c);
	return n;
}

static void same_order(struct sc_cache *lazy, struct sc_cache *direct,
		       const char *when)
{
	static char a[4096][KEY_LEN], b[4096][KEY_LEN];
	size_t na = order_of(lazy, a, 4096), nb = order_of(direct, b, 4096);

	cr_assert_eq(na, nb, "%s: %zu entries against %zu", when, na, nb);
	for (size_t i = 0; i < na; i++)
		cr_assert_str_eq(a[i], b[i], "%s: place %zu", when, i);
	assert_cache_sane(lazy);
}

static void key_of(char *key, unsigned int i)
{
	snprintf(key, KEY_LEN, "k%u", i);
}

static void insert_both(struct sc_cache *x, struct sc_cache *y, unsigned int i)
{
	char key[KEY_LEN];

	key_of(key, i);
	cr_assert_eq(sc_cache_insert(x, key, VAL(i), 1), 0);
	cr_assert_eq(sc_cache_insert(y, key, VAL(i), 1), 0);
}

static void find_both(struct sc_cache *x, struct sc_cache *y, unsigned int i)
{
	char key[KEY_LEN];

	key_of(key, i);
	cr_assert_eq(sc_cache_find(x, key), sc_cache_find(y, key));
}

/* Two caches of @n entries k0..k(n-1), k0 the oldest; @lazy shared. */
static void pair(struct sc_cache **lazy, struct sc_cache **direct, size_t limit,
		 unsigned int n)
{
	*lazy = new_cache(limit);
	*direct = new_cache(limit);
	for (unsigned int i = 0; i < n; i++)
		insert_both(*lazy, *direct, i);
	make_shared(*lazy);
	drain(*lazy); /* frees the exited thread's log */
}

/*
 * A random run's write to both caches, by @what in [0, 100): an insert
 * of k@k below 92, its removal below 97, a shrink by 3 below 98, else a
 * drain of @lazy.
 */
static void random_write_both(struct sc_cache *lazy, struct sc_cache *direct,
			      unsigned int k, unsigned int what)
{
	char key[KEY_LEN];

	key_of(key, k);
	if (what < 92)
		insert_both(lazy, direct, k);
	else if (what < 97)
		cr_assert_eq(sc_cache_remove(lazy, key),
			     sc_cache_remove(direct, key));
	else if (what < 98)
		cr_assert_eq(sc_cache_shrink(lazy, 3),
			     sc_cache_shrink(direct, 3));
	else
		drain(lazy);
}

Test(cache_lazylru, hits_wait_in_the_set_and_apply_in_stamp_order)
{
	struct sc_cache *lazy, *direct;
	static const unsigned int hits[] = { 3, 1, 3, 5, 0, 1, 7, 3 };
	char before[16][KEY_LEN], after[16][KEY_LEN];
	struct sc_lru *l;
	size_t i = 0;

	pair(&lazy, &direct, 10, 10);
	order_of(lazy, before, 16);
	for (i = 0; i < sizeof(hits) / sizeof(hits[0]); i++)
		find_both(lazy, direct, hits[i]);
	drain(lazy);
	drain(direct);
	/* drained, not moved: the list is as it was, the set holds 5 */
	cr_assert_eq(nr_dirty(lazy), 5);
	cr_assert_eq(nr_dirty(direct), 0, "one thread moves at once");
	sc_cache_lock(lazy);
	i = 0;
	for (l = lazy->lru.next; l != &lazy->lru; l = l->next)
		snprintf(after[i++], KEY_LEN, "%s",
			 sc_entry_key(sc_node_entry(l)));
	sc_cache_unlock(lazy);
	for (i = 0; i < 10; i++)
		cr_assert_str_eq(before[i], after[i], "place %zu moved", i);
	assert_cache_sane(lazy);
	same_order(lazy, direct, "after the hits");
	order_of(lazy, after, 16);
	cr_assert_str_eq(after[0], "k3");
	cr_assert_str_eq(after[1], "k7");
	cr_assert_str_eq(after[2], "k1");
	cr_assert_str_eq(after[3], "k0");
	cr_assert_str_eq(after[4], "k5");
	cr_assert_str_eq(after[5], "k9");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * An insert with hits pending is newer than all of them: it joins the
 * set with the next stamp. Hits drained after it are newer still.
 */
Test(cache_lazylru, insert_joins_the_pending_hits)
{
	struct sc_cache *lazy, *direct;

	pair(&lazy, &direct, 100, 20);
	find_both(lazy, direct, 4);
	find_both(lazy, direct, 2);
	insert_both(lazy, direct, 20); /* drains, then links k20 */
	cr_assert_eq(nr_dirty(lazy), 3, "k4, k2 and the new k20");
	find_both(lazy, direct, 4);
	drain(lazy);
	cr_assert_eq(nr_dirty(lazy), 3);
	assert_cache_sane(lazy);
	same_order(lazy, direct, "insert among hits");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * Removing, replacing or evicting an entry with a pending hit takes it
 * out of the set: the checker finds every element linked, and the order
 * of the rest is unchanged.
 */
Test(cache_lazylru, an_entry_that_leaves_leaves_the_set)
{
	struct sc_cache *lazy, *direct;
	char key[KEY_LEN];

	pair(&lazy, &direct, 40, 40);
	for (unsigned int i = 0; i < 40; i += 2)
		find_both(lazy, direct, i);
	drain(lazy);
	cr_assert_eq(nr_dirty(lazy), 20);
	for (unsigned int i = 0; i < 40; i += 4) {
		key_of(key, i);
		cr_assert_eq(sc_cache_remove(lazy, key), 0);
		cr_assert_eq(sc_cache_remove(direct, key), 0);
		assert_cache_sane(lazy);
	}
	cr_assert_eq(nr_dirty(lazy), 10, "the removed ones left the set");
	/* a replace under the same key: the old entry leaves, a new one */
	key_of(key, 2);
	cr_assert_eq(sc_cache_insert(lazy, key, VAL(100), 1), 0);
	cr_assert_eq(sc_cache_insert(direct, key, VAL(100), 1), 0);
	assert_cache_sane(lazy);
	find_both(lazy, direct, 6);
	find_both(lazy, direct, 1);
	drain(lazy);
	same_order(lazy, direct, "after removes and a replace");
	/* evictions: the set applied, the victims the same */
	for (unsigned int i = 0; i < 40; i += 3)
		find_both(lazy, direct, i);
	cr_assert_eq(sc_cache_set_limit(lazy, 12), 0);
	cr_assert_eq(sc_cache_set_limit(direct, 12), 0);
	cr_assert_eq(nr_dirty(lazy), 0, "a victim was chosen: applied");
	same_order(lazy, direct, "after set_limit");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * A full set is applied and started over, sized for the cache as it is
 * then: inserts that join pending hits fill a set sized for 40 entries
 * (64 elements); the set grows.
 */
Test(cache_lazylru, a_full_set_is_applied_and_grows)
{
	struct sc_cache *lazy, *direct;
	uint32_t cap;

	pair(&lazy, &direct, 1000, 40);
	find_both(lazy, direct, 0);
	drain(lazy);
	sc_cache_lock(lazy);
	cap = lazy->dirty_cap;
	sc_cache_unlock(lazy);
	cr_assert_eq(cap, 64);
	for (unsigned int i = 40; i < 200; i++) {
		insert_both(lazy, direct, i);
		find_both(lazy, direct, i % 7);
		assert_cache_sane(lazy);
	}
	sc_cache_lock(lazy);
	cap = lazy->dirty_cap;
	sc_cache_unlock(lazy);
	cr_assert_geq(cap, 128, "sized for the cache when it filled");
	same_order(lazy, direct, "after the set filled");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/* Stamps that run out: the set is applied, the sequence starts over. */
Test(cache_lazylru, stamps_that_run_out_apply_the_set)
{
	struct sc_cache *lazy, *direct;

	pair(&lazy, &direct, 50, 50);
	find_both(lazy, direct, 10);
	drain(lazy);
	sc_cache_lock(lazy);
	lazy->dirty_seq = UINT32_MAX - 3;
	sc_cache_unlock(lazy);
	for (unsigned int i = 0; i < 12; i++) {
		find_both(lazy, direct, (i * 7) % 50);
		drain(lazy);
		assert_cache_sane(lazy);
	}
	sc_cache_lock(lazy);
	cr_assert_lt(lazy->dirty_seq, 20, "the sequence started over");
	sc_cache_unlock(lazy);
	same_order(lazy, direct, "across the wrap");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * No memory for the set (either of its two blocks): the drained hits
 * move at once, as with one thread, and none is lost. No memory to grow
 * a full set: the old one is applied and kept.
 */
Test(cache_lazylru, no_memory_for_the_set_moves_at_once)
{
	for (unsigned long nth = 1; nth <= 2; nth++) {
		struct sc_cache *lazy, *direct;
		size_t mem0, mem1;

		pair(&lazy, &direct, 100, 30);
		mem0 = sc_cache_memory(lazy);
		find_both(lazy, direct, 3);
		find_both(lazy, direct, 0);
		find_both(lazy, direct, 3);
		sc_cache_lock(lazy);
		sc_fault_inject(nth);
		__sc_queue_sync_locked(lazy);
		sc_fault_inject(0);
		cr_assert_eq(lazy->dirty_cap, 0, "allocation %lu failed", nth);
		cr_assert_eq(lazy->nr_dirty, 0);
		sc_cache_unlock(lazy);
		assert_cache_sane(lazy);
		same_order(lazy, direct, "after a failed allocation");
		/* the next drain makes it, and counts it */
		find_both(lazy, direct, 7);
		drain(lazy);
		cr_assert_eq(nr_dirty(lazy), 1);
		mem1 = sc_cache_memory(lazy);
		cr_assert_eq(mem1 - mem0, 64 * 24, "%zu bytes more",
			     mem1 - mem0);
		same_order(lazy, direct, "after the set came");
		sc_cache_destroy(lazy);
		sc_cache_destroy(direct);
	}
}

Test(cache_lazylru, no_memory_to_grow_keeps_the_set)
{
	struct sc_cache *lazy, *direct;

	pair(&lazy, &direct, 1000, 40);
	find_both(lazy, direct, 0);
	drain(lazy);
	/* 63 more inserts with hits pending fill the 64 elements */
	for (unsigned int i = 40; i < 103; i++)
		insert_both(lazy, direct, i);
	cr_assert_eq(nr_dirty(lazy), 64);
	find_both(lazy, direct, 5);
	sc_cache_lock(lazy);
	sc_fault_inject(1); /* the grown set's first block */
	__sc_queue_sync_locked(lazy);
	sc_fault_inject(0);
	cr_assert_eq(lazy->dirty_cap, 64, "the old set is kept");
	cr_assert_eq(lazy->nr_dirty, 1, "applied, then the new hit");
	sc_cache_unlock(lazy);
	assert_cache_sane(lazy);
	same_order(lazy, direct, "after a failed growth");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/* Clear applies the set and gives its memory back. */
Test(cache_lazylru, clear_frees_the_set)
{
	struct sc_cache *lazy, *direct;

	pair(&lazy, &direct, 100, 30);
	find_both(lazy, direct, 1);
	drain(lazy);
	cr_assert_eq(nr_dirty(lazy), 1);
	sc_cache_clear(lazy);
	sc_cache_lock(lazy);
	cr_assert_eq(lazy->dirty_cap, 0);
	cr_assert_null(lazy->dirty);
	sc_cache_unlock(lazy);
	assert_cache_sane(lazy);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static unsigned int rnd(unsigned int n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned int)(rng % n);
}

/*
 * Random operations on both caches, compared every so often (comparing
 * applies the set, so between comparisons the set grows, is partly
 * removed, filled, evicted from): the orders never differ.
 */
Test(cache_lazylru, random_operations_keep_the_exact_order)
{
	enum { KEYS = 600, LIMIT = 400, OPS = 40000 };
	struct sc_cache *lazy, *direct;
	char key[KEY_LEN];

	pair(&lazy, &direct, LIMIT, LIMIT);
	for (unsigned int op = 0; op < OPS; op++) {
		unsigned int k = rnd(KEYS), what = rnd(100);
		struct sc_entry *x, *y;

		key_of(key, k);
		if (what < 70) {
			find_both(lazy, direct, k);
		} else if (what < 80) {
			x = sc_cache_get(lazy, key);
			y = sc_cache_get(direct, key);
			cr_assert_eq(!x, !y);
			sc_entry_put(x);
			sc_entry_put(y);
		} else {
			random_write_both(lazy, direct, k, what);
		}
		if (op % 997 == 0)
			assert_cache_sane(lazy);
		if (op % 4999 == 0)
			same_order(lazy, direct, "random operations");
	}
	same_order(lazy, direct, "the end");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/* Hits @c's calling thread has logged and no drain has consumed. */
static uint64_t my_pending(struct sc_cache *c)
{
	struct sc_hitlog *l = sc_hitlog_get(c);

	cr_assert_not_null(l);
	return atomic_load(&l->head) - atomic_load(&l->tail);
}

/*
 * A reader drains its own log once its backlog passes a chunk and a half;
 * while the order is lazy, only past SC_HITLOG_LAZY_BACKLOG, as its drains
 * then write the same lines of the set each time. Either way no hit is
 * lost and the order stays exact.
 */
Test(cache_lazylru, a_lazy_reader_drains_itself_after_a_longer_run)
{
	struct sc_cache *lazy, *direct;
	unsigned int i;

	pair(&lazy, &direct, 100, 100);
	/* the first drain of the lazy cache's set sets the longer backlog */
	find_both(lazy, direct, 0);
	drain(lazy);
	for (i = 1; i <= 8 * SC_HITLOG_CHUNK; i++)
		find_both(lazy, direct, (i * 37) % 100);
	cr_assert_eq(my_pending(lazy), 8 * SC_HITLOG_CHUNK,
		     "a lazy reader keeps its run");
	cr_assert_leq(my_pending(direct), SC_HITLOG_BACKLOG + SC_HITLOG_CHUNK,
		      "one thread drains after a chunk and a half");
	for (; i <= 2 * SC_HITLOG_LAZY_BACKLOG; i++)
		find_both(lazy, direct, (i * 37) % 100);
	cr_assert_leq(my_pending(lazy),
		      SC_HITLOG_LAZY_BACKLOG + SC_HITLOG_CHUNK,
		      "past the lazy backlog the reader drains itself");
	cr_assert_gt(nr_dirty(lazy), 0, "its hits went into the set");
	same_order(lazy, direct, "after the long runs");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * A lazy reader whose long run needs a chunk it cannot allocate waits for
 * the lock and drains at once: its hits go into the set, none is lost.
 */
Test(cache_lazylru, a_lazy_reader_without_a_chunk_drains_with_the_lock)
{
	struct sc_cache *lazy, *direct;
	struct sc_hitlog *l;
	unsigned long before;
	unsigned int i;

	pair(&lazy, &direct, 100, 100);
	find_both(lazy, direct, 0);
	drain(lazy);
	l = sc_hitlog_get(lazy);
	cr_assert_not_null(l);
	/* four chunks and up to a full one: the spare is used up by then */
	for (i = 1; i <= 4 * SC_HITLOG_CHUNK || l->wpos != SC_HITLOG_CHUNK; i++)
		find_both(lazy, direct, (i * 37) % 100);
	cr_assert_lt(my_pending(lazy), SC_HITLOG_LAZY_BACKLOG,
		     "no drain of its own yet");
	before = sc_fault_allocations();
	sc_fault_inject(1);
	cr_assert_not_null(sc_cache_find(lazy, "k5"));
	sc_fault_inject(0);
	cr_assert_eq(sc_fault_allocations() - before, 1, "one chunk asked for");
	cr_assert_eq(my_pending(lazy), 1, "drained, and the log started over");
	cr_assert_not_null(sc_cache_find(direct, "k5"));
	same_order(lazy, direct, "after the failed chunk");
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * Inserts that choose no victims while another live thread has a log do
 * not drain the logs: each is linked at the next drain, after the hits
 * published before it and before those published after. A helper thread
 * that stays alive makes the finds of the second thread; the direct
 * cache gets the same finds, in the same order, from one thread.
 */
struct helper {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sc_cache *c;
	int key; /* to find; -1: nothing asked, -2: exit */
	bool done;
	void *found;
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	char key[KEY_LEN];

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->key == -1)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->key == -2)
			break;
		key_of(key, (unsigned int)h->key);
		h->found = sc_cache_find(h->c, key);
		h->key = -1;
		h->done = true;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void helper_start(struct helper *h, struct sc_cache *c)
{
	*h = (struct helper){ .c = c, .key = -1 };
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	cr_assert_eq(pthread_create(&h->tid, NULL, helper_main, h), 0);
}

/* The helper finds key @i in its cache; returns what it found. */
static void *helper_find_only(struct helper *h, unsigned int i)
{
	void *found;

	pthread_mutex_lock(&h->lock);
	h->done = false;
	h->key = (int)i;
	pthread_cond_broadcast(&h->cond);
	while (!h->done)
		pthread_cond_wait(&h->cond, &h->lock);
	found = h->found;
	pthread_mutex_unlock(&h->lock);
	return found;
}

/* The helper finds key @i in its cache; then @direct finds it too. */
static void helper_find(struct helper *h, struct sc_cache *direct,
			unsigned int i)
{
	void *found = helper_find_only(h, i);
	char key[KEY_LEN];

	key_of(key, i);
	cr_assert_eq(found, sc_cache_find(direct, key), "k%u", i);
}

static void helper_stop(struct helper *h)
{
	pthread_mutex_lock(&h->lock);
	h->key = -2;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	cr_assert_eq(pthread_join(h->tid, NULL), 0);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
}

static unsigned int nr_deferred(struct sc_cache *c)
{
	unsigned int n;

	sc_cache_lock(c);
	n = c->nr_deferred;
	sc_cache_unlock(c);
	return n;
}

static uint64_t pending_of(struct sc_cache *c, struct sc_hitlog *l)
{
	uint64_t n;

	sc_cache_lock(c);
	n = atomic_load(&l->head) - atomic_load(&l->tail);
	sc_cache_unlock(c);
	return n;
}

Test(cache_lazylru, inserts_without_victims_link_where_they_were_made)
{
	struct sc_cache *lazy, *direct;
	struct helper h;

	pair(&lazy, &direct, 30, 20);
	helper_start(&h, lazy);
	helper_find(&h, direct, 4);
	find_both(lazy, direct, 2);
	insert_both(lazy, direct, 20); /* below the limit: no victims */
	cr_assert_eq(nr_deferred(lazy), 1, "linked at the next drain");
	cr_assert_eq(nr_deferred(direct), 0, "one thread's log: drained");
	assert_cache_sane(lazy);
	helper_find(&h, direct, 20);
	helper_find(&h, direct, 5);
	find_both(lazy, direct, 4);
	insert_both(lazy, direct, 21);
	insert_both(lazy, direct, 3); /* over a key: the old entry goes */
	cr_assert_eq(nr_deferred(lazy), 3);
	find_both(lazy, direct, 21);
	helper_find(&h, direct, 3);
	assert_cache_sane(lazy);
	same_order(lazy, direct, "three inserts among two threads' hits");
	cr_assert_eq(nr_deferred(lazy), 0);
	/* more than fit: the one that finds no room drains first */
	for (unsigned int i = 0; i < SC_QUEUE_DEFER_MAX + 3; i++) {
		helper_find(&h, direct, i);
		insert_both(lazy, direct, 22 + i % 8);
		find_both(lazy, direct, 2 * i);
	}
	cr_assert_leq(nr_deferred(lazy), SC_QUEUE_DEFER_MAX);
	assert_cache_sane(lazy);
	/* an insert that evicts drains first and chooses the same victims */
	for (unsigned int i = 40; i < 60; i++) {
		helper_find(&h, direct, i - 30);
		insert_both(lazy, direct, i);
		cr_assert_eq(sc_cache_count(lazy), sc_cache_count(direct));
	}
	same_order(lazy, direct, "after evicting inserts");
	helper_stop(&h);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * Up to SC_QUEUE_DEFER_LOGS logs an insert that chooses no victims waits
 * to be linked while another log holds hits; with more, it drains at
 * once (waiting would read and write two lines of every log), in the
 * same order either way.
 */
static void defer_with_logs(unsigned int logs, unsigned int deferred)
{
	struct helper h[SC_QUEUE_DEFER_LOGS + 1];
	struct sc_cache *lazy, *direct;
	unsigned int i, n = logs - 1; /* this thread has the other log */

	pair(&lazy, &direct, 100, 50);
	for (i = 0; i < n; i++)
		helper_start(&h[i], lazy);
	for (i = 0; i < n; i++)
		helper_find(&h[i], direct, 4 + i);
	find_both(lazy, direct, 1);
	cr_assert_eq(lazy->nr_logs, logs);
	insert_both(lazy, direct, 60); /* below the limit: no victims */
	cr_assert_eq(nr_deferred(lazy), deferred, "%u logs", logs);
	for (i = 0; i < n; i++)
		helper_find(&h[i], direct, 20 + i);
	find_both(lazy, direct, 60);
	same_order(lazy, direct, "an insert among many threads' hits");
	for (i = 0; i < n; i++)
		helper_stop(&h[i]);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

Test(cache_lazylru, an_insert_waits_up_to_the_bound_on_logs)
{
	defer_with_logs(SC_QUEUE_DEFER_LOGS, 1);
}

Test(cache_lazylru, an_insert_drains_beyond_the_bound_on_logs)
{
	defer_with_logs(SC_QUEUE_DEFER_LOGS + 1, 0);
}

/* As same_order(), for caches of any size: both lists walked together. */
static void same_order_walk(struct sc_cache *lazy, struct sc_cache *direct,
			    const char *when)
{
	struct sc_lru *a, *b;
	size_t n = 0;

	sc_cache_lock(lazy);
	__sc_queue_sync_locked(lazy);
	__sc_queue_oldest_locked(lazy); /* a reader of the order: applies */
	sc_cache_lock(direct);
	__sc_queue_sync_locked(direct);
	for (a = lazy->lru.next, b = direct->lru.next;
	     a != &lazy->lru && b != &direct->lru; a = a->next, b = b->next) {
		const struct sc_entry *x = sc_node_entry(a),
				      *y = sc_node_entry(b);

		cr_assert_eq(sc_entry_key_len(x), sc_entry_key_len(y),
			     "%s: place %zu", when, n);
		cr_assert_eq(memcmp(sc_entry_key(x), sc_entry_key(y),
				    sc_entry_key_len(x)),
			     0, "%s: place %zu", when, n);
		n++;
	}
	cr_assert(a == &lazy->lru && b == &direct->lru,
		  "%s: lists of different lengths", when);
	cr_assert_eq(n, lazy->count);
	sc_cache_unlock(direct);
	sc_cache_unlock(lazy);
	assert_cache_sane(lazy);
}

/*
 * From SC_DIRTY_MAX entries a drain moves each hit's entry at once, and
 * an insert that chooses no victims drains too, rather than leave its
 * hits and those of the inserts after it to one long drain under the
 * lock; below, it waits to be linked. The order is the same either way.
 */
static void defer_at_count(unsigned int n, unsigned int deferred)
{
	struct sc_cache *lazy, *direct;
	struct helper h;

	pair(&lazy, &direct, 2 * SC_DIRTY_MAX, n);
	helper_start(&h, lazy);
	helper_find(&h, direct, 4);
	find_both(lazy, direct, 2);
	insert_both(lazy, direct, n); /* a new key, below the limit */
	cr_assert_eq(nr_deferred(lazy), deferred, "%u entries", n);
	helper_find(&h, direct, n);
	find_both(lazy, direct, 7);
	same_order_walk(lazy, direct, "an insert among two threads' hits");
	helper_stop(&h);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

Test(cache_lazylru, an_insert_waits_below_the_sets_ceiling)
{
	defer_at_count(SC_DIRTY_MAX - 2, 1);
}

Test(cache_lazylru, an_insert_drains_from_the_sets_ceiling)
{
	defer_at_count(SC_DIRTY_MAX, 0);
}

/*
 * A reader's own drain (past its backlog) links the deferred inserts
 * first: it consumes its log past the place an insert was made, and the
 * insert must still come before the hits published after it.
 */
Test(cache_lazylru, a_readers_own_drain_links_the_deferred_inserts_first)
{
	struct sc_cache *lazy, *direct;
	struct helper h;
	unsigned int i;

	pair(&lazy, &direct, 100, 50);
	helper_start(&h, lazy);
	helper_find(&h, direct, 4);
	/* the first drain of the lazy cache's set sets the longer backlog */
	find_both(lazy, direct, 0);
	drain(lazy);
	/*
	 * a hit of the helper pending, which began first: an insert waits
	 * for a drain only while another thread's log holds hits
	 */
	helper_find(&h, direct, 5);
	find_both(lazy, direct, 1);
	insert_both(lazy, direct, 60); /* below the limit: no victims */
	cr_assert_eq(nr_deferred(lazy), 1, "linked at the next drain");
	for (i = 1; my_pending(lazy) >= i; i++) {
		cr_assert_leq(i, 2 * SC_HITLOG_LAZY_BACKLOG, "drained itself");
		find_both(lazy, direct, 2 + (i * 37) % 48);
	}
	cr_assert_eq(nr_deferred(lazy), 0, "the reader's drain linked it");
	same_order(lazy, direct, "hits before and after a deferred insert");
	helper_stop(&h);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * With no hit pending in another thread's log, an insert that chooses no
 * victims drains the caller's own hits and links at once, in the same
 * order, although a second thread has a log (the order stays lazy).
 */
Test(cache_lazylru, an_insert_links_at_once_when_no_other_log_holds_hits)
{
	struct sc_cache *lazy, *direct;
	struct helper h;

	pair(&lazy, &direct, 100, 50);
	helper_start(&h, lazy);
	helper_find(&h, direct, 4);
	drain(lazy);
	find_both(lazy, direct, 1);
	find_both(lazy, direct, 7);
	insert_both(lazy, direct, 60); /* below the limit: no victims */
	cr_assert_eq(nr_deferred(lazy), 0, "no other log held hits");
	cr_assert_eq(my_pending(lazy), 0, "its own hits applied first");
	insert_both(lazy, direct, 7); /* over a key, the same cost */
	cr_assert_eq(nr_deferred(lazy), 0);
	find_both(lazy, direct, 60);
	same_order(lazy, direct, "inserts linked at once among lazy hits");
	helper_find(&h, direct, 9);
	insert_both(lazy, direct, 61);
	cr_assert_eq(nr_deferred(lazy), 1, "the helper's hit: deferred");
	same_order(lazy, direct, "then one deferred");
	helper_stop(&h);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

Test(cache_lazylru, random_operations_with_a_live_second_thread)
{
	enum { KEYS = 90, LIMIT = 60, OPS = 20000 };
	struct sc_cache *lazy, *direct;
	unsigned int deferred = 0;
	struct helper h;

	/*
	 * Hits of two threads pending together are applied thread by
	 * thread, in the order their runs began: so that one thread alone
	 * (direct) makes the same order, the helper's hits come first
	 * between two writes, and a drain comes before a helper's hit that
	 * follows one of the main thread's.
	 */
	bool main_hit = false;

	pair(&lazy, &direct, LIMIT, LIMIT - 10);
	helper_start(&h, lazy);
	for (unsigned int op = 0; op < OPS; op++) {
		unsigned int k = rnd(KEYS), what = rnd(100);

		if (what < 35) {
			find_both(lazy, direct, k);
			main_hit = true;
			continue;
		} else if (what < 65) {
			if (main_hit)
				drain(lazy);
			main_hit = false;
			helper_find(&h, direct, k);
			continue;
		}
		main_hit = false;
		random_write_both(lazy, direct, k, what);
		if (what < 92)
			deferred += nr_deferred(lazy) != 0;
		if (op % 97 == 0)
			assert_cache_sane(lazy);
		if (op % 499 == 0)
			same_order(lazy, direct, "random operations");
	}
	same_order(lazy, direct, "the end");
	cr_assert_gt(deferred, OPS / 20, "inserts linked late: %u", deferred);
	helper_stop(&h);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}

/*
 * A reader's own drain takes the other logs whose runs began before its
 * own, first, and leaves those that began after: the runs are applied in
 * the order they began, and the list is what moving each hit at its
 * drain makes.
 */
Test(cache_lazylru, a_reader_drains_the_runs_that_began_before_its_own)
{
	struct helper h;
	struct sc_cache *lazy, *direct;
	struct sc_hitlog *other;
	unsigned int i, j;

	pair(&lazy, &direct, 100, 100);
	helper_start(&h, lazy);
	find_both(lazy, direct, 0);
	drain(lazy);
	/* the helper's run begins first: k1 */
	helper_find(&h, direct, 1);
	other = lazy->logs;
	if (other == sc_hitlog_get(lazy))
		other = other->next;
	cr_assert_not_null(other);
	cr_assert_eq(pending_of(lazy, other), 1);
	for (i = 1; pending_of(lazy, other); i++) {
		cr_assert_leq(i, 2 * SC_HITLOG_LAZY_BACKLOG, "no drain");
		find_both(lazy, direct, 2 + (i * 37) % 98);
	}
	cr_assert_leq(my_pending(lazy), SC_HITLOG_CHUNK,
		      "drained its own log with the earlier run");
	/* now this thread's run begins first, the helper's after: k2 */
	find_both(lazy, direct, 50);
	cr_assert_not_null(helper_find_only(&h, 2));
	for (j = 0;; j++, i++) {
		uint64_t before = my_pending(lazy);
		char key[KEY_LEN];

		cr_assert_lt(j, 2 * SC_HITLOG_LAZY_BACKLOG, "drained itself");
		key_of(key, 3 + (i * 37) % 97);
		cr_assert_not_null(sc_cache_find(lazy, key));
		if (my_pending(lazy) > before) {
			cr_assert_not_null(sc_cache_find(direct, key));
			continue;
		}
		/*
		 * Drained, then this hit appended: the later run waits, and
		 * comes after this thread's drained hits, before this one.
		 */
		cr_assert_eq(pending_of(lazy, other), 1, "the later run waits");
		cr_assert_not_null(sc_cache_find(direct, "k2"));
		cr_assert_not_null(sc_cache_find(direct, key));
		break;
	}
	same_order(lazy, direct, "after both threads' runs");
	helper_stop(&h);
	sc_cache_destroy(lazy);
	sc_cache_destroy(direct);
}
