// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc_mutex (alloc/lock.h): in DEBUG=1 builds a mutex records its holder,
 * and sc_lockdep_assert_held()/_not_held() abort when the calling thread
 * does not (or does) hold it, as the kernel's lockdep_assert_held() does.
 * The library's functions that need a lock held assert it, so running the
 * suites in a DEBUG=1 build checks every such path. In other builds the
 * assertions compile to nothing. Also the reading of /proc/loadavg that
 * sc_lock_spin_ok() asks when a waiter may spin (lock_mt.c has the rest).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "alloc/lock.h"

static struct sc_mutex lock = SC_MUTEX_INITIALIZER;

Test(alloc_lock, held_and_not_held_pass)
{
	sc_lockdep_assert_not_held(&lock);
	sc_mutex_lock(&lock);
	sc_lockdep_assert_held(&lock);
	sc_mutex_unlock(&lock);
	sc_lockdep_assert_not_held(&lock);
	cr_assert(sc_mutex_trylock(&lock));
	sc_lockdep_assert_held(&lock);
	sc_mutex_unlock(&lock);
}

#ifdef CONFIG_SC_DEBUG
Test(alloc_lock, assert_held_aborts_when_not_held, .signal = SIGABRT)
{
	sc_lockdep_assert_held(&lock);
}

Test(alloc_lock, assert_not_held_aborts_when_held, .signal = SIGABRT)
{
	sc_mutex_lock(&lock);
	sc_lockdep_assert_not_held(&lock);
}

Test(alloc_lock, locking_twice_aborts, .signal = SIGABRT)
{
	sc_mutex_lock(&lock);
	sc_mutex_lock(&lock);
}

Test(alloc_lock, unlocking_unheld_aborts, .signal = SIGABRT)
{
	sc_mutex_unlock(&lock);
}

static void *hold_fn(void *arg)
{
	pthread_barrier_t *b = arg;

	sc_mutex_lock(&lock);
	pthread_barrier_wait(b); /* held */
	pthread_barrier_wait(b); /* checked */
	sc_mutex_unlock(&lock);
	return NULL;
}

/* Held by another thread is not held by this one. */
Test(alloc_lock, held_by_another_thread_is_not_held, .signal = SIGABRT)
{
	static pthread_barrier_t b;
	pthread_t t;

	cr_assert_eq(pthread_barrier_init(&b, NULL, 2), 0);
	cr_assert_eq(pthread_create(&t, NULL, hold_fn, &b), 0);
	pthread_barrier_wait(&b);
	sc_lockdep_assert_not_held(&lock); /* passes */
	sc_lockdep_assert_held(&lock); /* aborts */
}
#else
/* Other builds: the assertions cost nothing and check nothing. */
Test(alloc_lock, assertions_compile_away)
{
	sc_lockdep_assert_held(&lock);
	sc_mutex_lock(&lock);
	sc_lockdep_assert_not_held(&lock);
	sc_mutex_unlock(&lock);
}
#endif

/* The runnable count of a /proc/loadavg line, and lines that are not. */
Test(alloc_lock, loadavg_runnable_parses)
{
	cr_assert_eq(sc_loadavg_runnable("0.52 0.58 0.59 3/271 12345\n"), 3);
	cr_assert_eq(sc_loadavg_runnable("12.00 8.10 4.00 17/1024 99"), 17);
	cr_assert_eq(sc_loadavg_runnable("0.00  0.00 0.00  0/5 1"), 0);
	cr_assert_eq(sc_loadavg_runnable(""), -1);
	cr_assert_eq(sc_loadavg_runnable("0.52 0.58 0.59"), -1);
	cr_assert_eq(sc_loadavg_runnable("0.52 0.58 0.59 3"), -1);
	cr_assert_eq(sc_loadavg_runnable("0.52 0.58 0.59 x/271 1"), -1);
	cr_assert_eq(sc_loadavg_runnable("0.52 0.58 3/271 1"), -1);
	cr_assert_eq(sc_loadavg_runnable("1 2 3 99999999999999999999/4 5"), -1);
}

/* The file read whole; one that is missing, empty or not such a line. */
Test(alloc_lock, loadavg_read_reads_the_file)
{
	char path[] = "/tmp/sc-loadavg-XXXXXX";
	const char line[] = "0.10 0.20 0.30 5/300 4242\n";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(sc_loadavg_read(path), -1, "an empty file");
	cr_assert_eq(write(fd, line, sizeof(line) - 1),
		     (ssize_t)sizeof(line) - 1);
	cr_assert_eq(sc_loadavg_read(path), 5);
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, "garbage\n", 8, 0), 8);
	cr_assert_eq(sc_loadavg_read(path), -1, "not a loadavg line");
	close(fd);
	unlink(path);
	cr_assert_eq(sc_loadavg_read(path), -1, "a missing file");
	cr_assert_eq(sc_loadavg_read("/proc/loadavg") >= 0,
		     access("/proc/loadavg", R_OK) == 0);
}
