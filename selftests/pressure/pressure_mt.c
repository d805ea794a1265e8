// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The monitor's own thread: it dispatches what other threads notify, and
 * sc_pressure_close() stops it cleanly, busy or idle.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <slabcache.h>

#include "../mt.h"

static atomic_ulong passes;
static atomic_int max_level;

static unsigned long mt_count(struct sc_shrinker *s,
			      struct sc_shrink_control *sc)
{
	int seen = atomic_load(&max_level);

	/* The level first: a waiter on passes then sees it. */
	while ((int)sc->level > seen &&
	       !atomic_compare_exchange_weak(&max_level, &seen, (int)sc->level))
		;
	atomic_fetch_add(&passes, 1);
	return 0;
}

static unsigned long mt_scan(struct sc_shrinker *s,
			     struct sc_shrink_control *sc)
{
	return 0;
}

static struct sc_shrinker *mt_shrinker(void)
{
	struct sc_shrinker *s = sc_shrinker_alloc(0, "pressure-mt");

	cr_assert_not_null(s);
	s->count_objects = mt_count;
	s->scan_objects = mt_scan;
	sc_shrinker_register(s);
	return s;
}

static struct sc_pressure *mt_open(void)
{
	struct sc_pressure *p;

	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", "/dev/null", 1), 0);
	p = sc_pressure_open(NULL);
	cr_assert_not_null(p);
	return p;
}

Test(pressure_mt, thread_dispatches_notifies)
{
	struct sc_shrinker *s = mt_shrinker();
	struct sc_pressure *p = mt_open();

	cr_assert_eq(sc_pressure_start_thread(p), 0);
	cr_assert_eq(sc_pressure_start_thread(p), -EBUSY);
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_CRITICAL), 0);
	while (atomic_load(&passes) == 0)
		sched_yield();
	cr_assert_eq(atomic_load(&max_level), SC_PRESSURE_CRITICAL);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

Test(pressure_mt, close_while_thread_is_idle)
{
	struct sc_pressure *p = mt_open();

	cr_assert_eq(sc_pressure_start_thread(p), 0);
	usleep(10000); /* let it block in epoll_wait */
	sc_pressure_close(p);
}

static atomic_int stop_notifying;

static void *notifier(void *arg)
{
	struct sc_pressure *p = arg;
	unsigned int i = 0;

	while (!atomic_load(&stop_notifying))
		sc_pressure_notify(p, (enum sc_pressure_level)(1 + i++ % 3));
	return NULL;
}

Test(pressure_mt, close_while_thread_is_busy)
{
	struct sc_shrinker *s = mt_shrinker();
	struct sc_pressure *p = mt_open();
	pthread_t t[2];

	cr_assert_eq(sc_pressure_start_thread(p), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, notifier, p), 0);
	while (atomic_load(&passes) < 50)
		sched_yield();
	atomic_store(&stop_notifying, 1);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	/* The thread may be inside a pass right now. */
	sc_pressure_close(p);
	sc_shrinker_free(s);
	cr_assert_geq(atomic_load(&passes), 50);
}

Test(pressure_mt, dispatch_from_two_threads)
{
	struct sc_shrinker *s = mt_shrinker();
	struct sc_pressure *p = mt_open();
	pthread_t t;

	cr_assert_eq(sc_pressure_start_thread(p), 0);
	cr_assert_eq(pthread_create(&t, NULL, notifier, p), 0);
	/* The program dispatches too, alongside the library's thread. */
	for (int i = 0; i < 200; i++)
		cr_assert_geq(sc_pressure_dispatch(p), 0);
	atomic_store(&stop_notifying, 1);
	cr_assert_eq(pthread_join(t, NULL), 0);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}
