// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Limbo is bounded. Entries a writer unlinks wait in limbo until every
 * reader that may still see them has left its read-side section. A reader
 * stuck inside one (preempted, stopped) must not let limbo grow without
 * bound: at SC_LIMBO_MAX waiting entries the writer waits for the grace
 * period instead, and nothing is freed while the reader may read it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/internal.h"
#include "core/rcu.h"
#include "helpers.h"

#define LIMBO_MAX 65536 /* core/cache.c: SC_LIMBO_MAX */
#define N (LIMBO_MAX + 4096)

static sem_t in_section;
static atomic_bool reader_left;

static void *stuck_reader(void *arg)
{
	struct timespec stuck = { 0, 300 * 1000 * 1000 };

	(void)arg;
	sc_rcu_read_lock();
	sem_post(&in_section);
	nanosleep(&stuck, NULL);
	atomic_store(&reader_left, true);
	sc_rcu_read_unlock();
	return NULL;
}

Test(cache_limbo, writer_waits_at_the_bound, .timeout = 60)
{
	struct sc_cache_config cfg = { .name = "limbo",
				       .limit = SIZE_MAX,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	size_t most = 0;
	pthread_t reader;
	sc_key_t *keys;

	cr_assert_not_null(c);
	keys = malloc(N * sizeof(*keys));
	cr_assert_not_null(keys);
	for (int i = 0; i < N; i++) {
		keys[i] = sc_cache_add(c, VAL(i), 1);
		cr_assert(keys[i].id);
	}
	sem_init(&in_section, 0, 0);
	cr_assert_eq(pthread_create(&reader, NULL, stuck_reader, NULL), 0);
	sem_wait(&in_section);

	for (int i = 0; i < N; i++) {
		cr_assert_eq(sc_cache_remove_key(c, keys[i]), 0);
		/* this thread is the only writer: the count is stable */
		if (c->limbo_entries > most)
			most = c->limbo_entries;
	}
	cr_assert_leq(most, LIMBO_MAX, "limbo grew to %zu", most);
	cr_assert(atomic_load(&reader_left),
		  "%d removals behind a stuck reader did not wait for it", N);
	pthread_join(reader, NULL);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
	free(keys);
}

static sem_t idle_go, idle_ready;

static void *idle_reader(void *arg)
{
	sc_cache_contains(arg, "idle"); /* registers for read-side sections */
	sem_post(&idle_ready);
	sem_wait(&idle_go);
	return NULL;
}

/*
 * A process with one thread frees what a write drops at once (no other
 * thread can be reading it); as soon as a second thread has registered for
 * read-side sections, dropped entries wait in limbo again.
 */
Test(cache_limbo, a_write_alone_frees_at_once)
{
	struct sc_cache_config cfg = { .name = "alone", .limit = 100 };
	struct sc_cache *c = sc_cache_create(&cfg);
	pthread_t t;

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_find(c, "a"), VAL(1));
	cr_assert_eq(sc_cache_remove(c, "a"), 0);
	if (sc_rcu_readers_fence()) {
		/* no membarrier(2): every drop waits for a grace period */
		cr_assert_eq(c->limbo_entries, 1);
	} else {
		cr_assert_eq(c->limbo_entries, 0, "alone: freed at once");
	}
	sem_init(&idle_go, 0, 0);
	sem_init(&idle_ready, 0, 0);
	cr_assert_eq(pthread_create(&t, NULL, idle_reader, c), 0);
	sem_wait(&idle_ready);
	cr_assert_eq(sc_cache_insert(c, "b", VAL(2), 1), 0);
	cr_assert_eq(sc_cache_remove(c, "b"), 0);
	cr_assert_geq(c->limbo_entries, 1, "a second reader: limbo");
	sem_post(&idle_go);
	pthread_join(t, NULL);
	sc_cache_destroy(c);
}

struct worker_case {
	struct sc_cache *c;
	size_t limbo_after_replace, limbo_after_evict;
	unsigned int deferred;
	bool b_evicted, a_kept;
};

/*
 * The worker of a_worker_beside_an_idle_creator(): a hit, then a replace
 * and an insert that evicts, alone among the registered threads.
 */
static void *replacing_worker(void *arg)
{
	struct worker_case *w = arg;
	struct sc_cache *c = w->c;
	struct sc_entry *e;

	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_insert(c, "b", VAL(2), 1), 0);
	cr_assert_eq(sc_cache_insert(c, "c", VAL(3), 1), 0);
	e = sc_cache_get(c, "a"); /* a hit in this thread's log */
	cr_assert_not_null(e);
	sc_entry_put(e);
	/* the same key at the same cost: linked at once, old one freed */
	cr_assert_eq(sc_cache_insert(c, "c", VAL(4), 1), 0);
	w->deferred = c->nr_deferred;
	w->limbo_after_replace = c->limbo_entries;
	cr_assert_eq(sc_cache_find(c, "a"), VAL(1));
	/* a new key evicts the least recently used: b, not a or c */
	cr_assert_eq(sc_cache_insert(c, "d", VAL(5), 1), 0);
	w->limbo_after_evict = c->limbo_entries;
	w->b_evicted = !sc_cache_contains(c, "b");
	w->a_kept = sc_cache_find(c, "a") == VAL(1) &&
		    sc_cache_find(c, "c") == VAL(4);
	return NULL;
}

/*
 * A cache that one thread creates and another works on: the creating
 * thread has a log (sc_cache_create() makes it) but never looks the
 * cache up, so it is not registered for read-side sections and its log
 * stays empty. The worker's writes are then alone: an insert over a key
 * drains the worker's own hits and links at once (no deferred insert,
 * as no other log holds hits), and what the writes drop is freed at
 * once, as in a program with one thread, in exact LRU order.
 */
Test(cache_limbo, a_worker_beside_an_idle_creator)
{
	struct sc_cache_config cfg = { .name = "creator", .limit = 3 };
	struct worker_case w = { 0 };
	pthread_t t;

	w.c = sc_cache_create(&cfg);
	cr_assert_not_null(w.c);
	cr_assert_eq(pthread_create(&t, NULL, replacing_worker, &w), 0);
	pthread_join(t, NULL);
	cr_assert_eq(w.deferred, 0, "no other log held hits: linked at once");
	cr_assert(w.b_evicted, "exact LRU: b was the oldest");
	cr_assert(w.a_kept);
	if (sc_rcu_readers_fence()) {
		/* no membarrier(2): every drop waits for a grace period */
		cr_assert_geq(w.limbo_after_replace, 1);
	} else {
		cr_assert_eq(w.limbo_after_replace, 0,
			     "replace: freed at once");
		cr_assert_eq(w.limbo_after_evict, 0, "eviction: freed at once");
	}
	cr_assert_eq(sc_cache_check(w.c, NULL), 0);
	sc_cache_destroy(w.c);
}

static sem_t holder_go, holder_ready;

/* Logs a hit on "x" and keeps it pending, registered, until told. */
static void *hit_holder(void *arg)
{
	cr_assert_eq(sc_cache_find(arg, "x"), VAL(9));
	sem_post(&holder_ready);
	sem_wait(&holder_go);
	return NULL;
}

/*
 * With another thread's hit pending, an insert that chooses no victims
 * still waits for the next drain (a deferred insert), and what the
 * writes drop waits in limbo: that thread is registered and its log may
 * name the dropped entry.
 */
Test(cache_limbo, another_threads_pending_hit_keeps_the_limbo)
{
	struct sc_cache_config cfg = { .name = "holder", .limit = 10 };
	struct sc_cache *c = sc_cache_create(&cfg);
	pthread_t t;

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "x", VAL(9), 1), 0);
	cr_assert_eq(sc_cache_insert(c, "y", VAL(8), 1), 0);
	sem_init(&holder_go, 0, 0);
	sem_init(&holder_ready, 0, 0);
	cr_assert_eq(pthread_create(&t, NULL, hit_holder, c), 0);
	sem_wait(&holder_ready);
	/* the holder's log: logs_shared, and a hit pending */
	cr_assert_eq(sc_cache_insert(c, "y", VAL(7), 1), 0);
	cr_assert_eq(c->nr_deferred, 1, "another log holds a hit: deferred");
	cr_assert_geq(c->limbo_entries, 1, "a registered reader: limbo");
	sem_post(&holder_go);
	pthread_join(t, NULL);
	cr_assert_eq(sc_cache_find(c, "y"), VAL(7));
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}
