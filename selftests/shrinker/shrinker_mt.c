// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Shrinker registry under concurrency: sc_shrinker_free() waits for a
 * scan running in another thread, and register/free race with passes
 * without a callback ever running after its shrinker's free returned.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <slabcache.h>

#include "../mt.h"

struct blocking {
	atomic_int entered; /* scan started */
	atomic_int release; /* scan may return */
	atomic_int scan_done; /* scan returned */
	atomic_int free_returned;
	struct sc_shrinker *s;
};

static unsigned long blk_count(struct sc_shrinker *s,
			       struct sc_shrink_control *sc)
{
	return 1000;
}

static unsigned long blk_scan(struct sc_shrinker *s,
			      struct sc_shrink_control *sc)
{
	struct blocking *b = s->private_data;

	atomic_store(&b->entered, 1);
	while (!atomic_load(&b->release))
		sched_yield();
	/* free must still be waiting for this scan. */
	cr_assert_eq(atomic_load(&b->free_returned), 0);
	atomic_store(&b->scan_done, 1);
	return SC_SHRINK_STOP;
}

static void *shrink_thread(void *arg)
{
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	return NULL;
}

static void *free_thread(void *arg)
{
	struct blocking *b = arg;

	sc_shrinker_free(b->s);
	/* When free returns, the scan it waited for has returned. */
	cr_assert_eq(atomic_load(&b->scan_done), 1);
	atomic_store(&b->free_returned, 1);
	return NULL;
}

Test(shrinker_mt, free_waits_for_running_scan)
{
	struct blocking b = { 0 };
	pthread_t scanner, freer;

	b.s = sc_shrinker_alloc(0, "blocking");
	cr_assert_not_null(b.s);
	b.s->count_objects = blk_count;
	b.s->scan_objects = blk_scan;
	b.s->private_data = &b;
	sc_shrinker_register(b.s);

	cr_assert_eq(pthread_create(&scanner, NULL, shrink_thread, NULL), 0);
	while (!atomic_load(&b.entered))
		sched_yield();
	cr_assert_eq(pthread_create(&freer, NULL, free_thread, &b), 0);
	/* Give free a chance to (wrongly) return early. */
	usleep(50000);
	cr_assert_eq(atomic_load(&b.free_returned), 0);
	atomic_store(&b.release, 1);
	cr_assert_eq(pthread_join(freer, NULL), 0);
	cr_assert_eq(pthread_join(scanner, NULL), 0);
	cr_assert_eq(atomic_load(&b.free_returned), 1);
	/* It is gone from the registry. */
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
}

#define RACE_THREADS 3
#define RACE_ROUNDS 400

struct racer {
	atomic_int freed; /* set once sc_shrinker_free() returned */
	atomic_ulong calls;
};

static atomic_int late_calls;
static atomic_int stop_shrinking;

static unsigned long race_count(struct sc_shrinker *s,
				struct sc_shrink_control *sc)
{
	struct racer *r = s->private_data;

	if (atomic_load(&r->freed))
		atomic_fetch_add(&late_calls, 1);
	atomic_fetch_add(&r->calls, 1);
	return 256;
}

static unsigned long race_scan(struct sc_shrinker *s,
			       struct sc_shrink_control *sc)
{
	struct racer *r = s->private_data;

	if (atomic_load(&r->freed))
		atomic_fetch_add(&late_calls, 1);
	return sc->nr_to_scan;
}

/* shrink_loop threads that have begun their first pass */
static atomic_int shrinkers_running;

static void *register_free_loop(void *arg)
{
	struct racer *rs = arg;

	/*
	 * Race the passes, not thread start-up: on a loaded machine all the
	 * rounds could otherwise be over before a pass thread first runs.
	 */
	while (atomic_load(&shrinkers_running) < 2)
		sched_yield();
	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct sc_shrinker *s = sc_shrinker_alloc(0, "race-%d", i);

		cr_assert_not_null(s);
		s->count_objects = race_count;
		s->scan_objects = race_scan;
		s->private_data = &rs[i];
		sc_shrinker_register(s);
		if (!i) {
			/*
			 * The first one stays until a pass has met it, so
			 * that some pass surely does, however the threads
			 * are scheduled; the others race.
			 */
			while (!atomic_load(&rs[i].calls))
				sched_yield();
		} else if (i % 3) {
			sched_yield();
		}
		sc_shrinker_free(s);
		atomic_store(&rs[i].freed, 1);
	}
	return NULL;
}

static void *shrink_loop(void *arg)
{
	unsigned long passes = 0;

	atomic_fetch_add(&shrinkers_running, 1);
	while (!atomic_load(&stop_shrinking)) {
		sc_shrink_memory(passes % 2 ? SC_PRESSURE_CRITICAL :
					      SC_PRESSURE_LOW);
		passes++;
	}
	return NULL;
}

Test(shrinker_mt, register_free_race_with_passes, .timeout = 60)
{
	pthread_t reg[RACE_THREADS], shr[2];
	struct racer *rs;
	unsigned long total = 0;

	rs = calloc(RACE_THREADS * RACE_ROUNDS, sizeof(*rs));
	cr_assert_not_null(rs);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&shr[i], NULL, shrink_loop, NULL),
			     0);
	for (int i = 0; i < RACE_THREADS; i++)
		cr_assert_eq(pthread_create(&reg[i], NULL, register_free_loop,
					    &rs[i * RACE_ROUNDS]),
			     0);
	for (int i = 0; i < RACE_THREADS; i++)
		cr_assert_eq(pthread_join(reg[i], NULL), 0);
	atomic_store(&stop_shrinking, 1);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(shr[i], NULL), 0);

	cr_assert_eq(atomic_load(&late_calls), 0);
	for (int i = 0; i < RACE_THREADS * RACE_ROUNDS; i++)
		total += atomic_load(&rs[i].calls);
	/* The passes did meet registered shrinkers. */
	cr_assert_gt(total, 0);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
	free(rs);
}

/* A shrinker that frees itself from its scan while others scan it. */
static atomic_int self_freed;

static unsigned long self_scan(struct sc_shrinker *s,
			       struct sc_shrink_control *sc)
{
	if (atomic_exchange(&self_freed, 1) == 0)
		sc_shrinker_free(s);
	return sc->nr_to_scan;
}

Test(shrinker_mt, free_self_while_other_threads_scan)
{
	pthread_t t[3];
	struct sc_shrinker *s = sc_shrinker_alloc(0, "self");

	cr_assert_not_null(s);
	s->count_objects = blk_count;
	s->scan_objects = self_scan;
	sc_shrinker_register(s);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, shrink_thread, NULL),
			     0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	cr_assert_eq(atomic_load(&self_freed), 1);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
}
