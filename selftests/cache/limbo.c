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
