// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc_mutex_lock_spin() (alloc/lock.h): waiters that spin for a bounded
 * time, one at a time, then sleep. Mutual exclusion with spinning and
 * sleeping waiters mixed, the spinner's mark set and cleared, and a
 * budget of 0 that never spins. Also run under ThreadSanitizer.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "../mt.h"
#include "config.h"
#include "alloc/lock.h"

#define SPIN_THREADS 4
#define SPIN_ROUNDS 20000

static struct sc_mutex spin_lock = SC_MUTEX_INITIALIZER;
static unsigned long spin_counter; /* plain: the mutex alone guards it */

static void *spin_worker(void *arg)
{
	/* half the threads spin, half sleep at once: both must exclude */
	uint64_t spin_ns = (uintptr_t)arg & 1 ? 10000 : 0;
	unsigned int i;

	for (i = 0; i < SPIN_ROUNDS; i++) {
		sc_mutex_lock_spin(&spin_lock, spin_ns);
		sc_lockdep_assert_held(&spin_lock);
		spin_counter++;
		sc_mutex_unlock(&spin_lock);
	}
	return NULL;
}

Test(alloc_mt, lock_spin_excludes)
{
	pthread_t t[SPIN_THREADS];
	uintptr_t i;

	spin_counter = 0;
	for (i = 0; i < SPIN_THREADS; i++)
		cr_assert_eq(
			pthread_create(&t[i], NULL, spin_worker, (void *)i), 0);
	for (i = 0; i < SPIN_THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(spin_counter, (unsigned long)SPIN_THREADS * SPIN_ROUNDS);
	cr_assert_eq(atomic_load(&spin_lock.spinning), 0,
		     "no waiter left marked as spinning");
}

static void *spin_waiter(void *arg)
{
	sc_mutex_lock_spin(&spin_lock, *(uint64_t *)arg);
	spin_counter++;
	sc_mutex_unlock(&spin_lock);
	return NULL;
}

/* Wait up to 10 s for @m->spinning to read @v. */
static bool spinning_reads(struct sc_mutex *m, unsigned int v)
{
	uint64_t until = sc_clock_ns() + 10000000000ull;

	while (atomic_load(&m->spinning) != v)
		if (sc_clock_ns() > until)
			return false;
	return true;
}

#ifdef __GLIBC__
/* Wait up to 10 s for glibc's lock word of @m to read @v. */
static bool lock_word_reads(struct sc_mutex *m, int v)
{
	uint64_t until = sc_clock_ns() + 10000000000ull;

	while (__atomic_load_n(&m->mutex.__data.__lock, __ATOMIC_RELAXED) != v)
		if (sc_clock_ns() > until)
			return false;
	return true;
}
#endif

/*
 * A waiter spins (marked) for its budget only, then sleeps (unmarked)
 * while the holder still holds; it takes the mutex once it is let go.
 */
Test(alloc_mt, lock_spin_gives_up_then_sleeps)
{
	/* long enough to be seen spinning on a loaded machine */
	uint64_t spin_ns = 1000000000; /* 1 s */
	pthread_t t;

	spin_counter = 0;
	sc_mutex_lock(&spin_lock);
	cr_assert_eq(pthread_create(&t, NULL, spin_waiter, &spin_ns), 0);
	cr_assert(spinning_reads(&spin_lock, 1), "the waiter spins");
	cr_assert(spinning_reads(&spin_lock, 0), "and stops spinning");
#ifdef __GLIBC__
	/* glibc marks its lock word 2 for a waiter asleep in the kernel */
	cr_assert(lock_word_reads(&spin_lock, 2), "then sleeps on the mutex");
#endif
	cr_assert_eq(spin_counter, 0, "while the mutex is still held");
	sc_mutex_unlock(&spin_lock);
	pthread_join(t, NULL);
	cr_assert_eq(spin_counter, 1);
}

/* Budget 0: the waiter sleeps at once and never marks itself. */
Test(alloc_mt, lock_spin_zero_sleeps)
{
	uint64_t spin_ns = 0;
	struct timespec ts = { 0, 20000000 };
	pthread_t t;

	spin_counter = 0;
	sc_mutex_lock(&spin_lock);
	cr_assert_eq(pthread_create(&t, NULL, spin_waiter, &spin_ns), 0);
	nanosleep(&ts, NULL);
	cr_assert_eq(atomic_load(&spin_lock.spinning), 0);
	cr_assert_eq(spin_counter, 0);
	sc_mutex_unlock(&spin_lock);
	pthread_join(t, NULL);
	cr_assert_eq(spin_counter, 1);
}

/* ------------------------------------------- when a waiter may spin */

/* Threads that stay runnable until told to stop. */
static atomic_bool busy_stop;

static void *busy_worker(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&busy_stop, memory_order_relaxed))
		sc_cpu_relax();
	return NULL;
}

/* As many threads as CPUs, or fewer: they all fit, so a waiter spins. */
Test(alloc_mt, lock_spin_ok_while_threads_fit)
{
	unsigned int cpus = sc_lock_cpus();

	cr_assert_geq(cpus, 1);
	cr_assert_eq(sc_lock_spin_ok(0), cpus > 1);
	cr_assert_eq(sc_lock_spin_ok(1), cpus > 1);
	cr_assert_eq(sc_lock_spin_ok(cpus), cpus > 1);
}

/*
 * More threads than CPUs, and more runnable tasks than CPUs too (one
 * busy thread per CPU and one more): a waiter must not spin, whatever
 * the system's other tasks. The look at /proc/loadavg is fresh: the last
 * one is more than SC_LOCK_RUNNABLE_EVERY_NS old when the call comes.
 */
Test(alloc_mt, lock_spin_not_ok_with_a_cpu_wanted)
{
	unsigned int cpus = sc_lock_cpus(), i, n = cpus + 1;
	struct timespec ts = { 0, 3 * SC_LOCK_RUNNABLE_EVERY_NS / 2 };
	pthread_t *t = calloc(n, sizeof(*t));

	cr_assert_not_null(t);
	atomic_store(&busy_stop, false);
	for (i = 0; i < n; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, busy_worker, NULL), 0);
	nanosleep(&ts, NULL);
	cr_assert_not(sc_lock_spin_ok(cpus + 100), "%u busy threads on %u CPUs",
		      n, cpus);
	/* the answer stands for the next calls: no second look so soon */
	cr_assert_not(sc_lock_spin_ok(cpus + 100));
	atomic_store(&busy_stop, true);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}
