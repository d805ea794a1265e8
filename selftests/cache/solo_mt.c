// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cache lock's solo mode (core/cache_internal.h): while one thread
 * takes cache locks, it takes none of the mutex; the first lock taken by
 * any other thread ends the mode for the process, and waits until the
 * solo thread has left the section it may be in. Each test runs in a
 * process of its own, so each starts with the mode on (where the kernel
 * offers membarrier(2)) and no solo thread.
 */
#include "../mt.h"
#include "../refuse_membarrier.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slabcache.h>

#include "../child.h"
#include "core/cache_internal.h"

static bool kernel_has_membarrier(void)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}

static struct sc_cache *new_cache(void)
{
	struct sc_cache_config cfg = { .name = "solo", .limit = 1000 };

	return sc_cache_create(&cfg);
}

static int v1, v2, v3;

Test(cache_mt, solo_one_thread_takes_no_mutex)
{
	struct sc_cache *c = new_cache();
	bool solo = kernel_has_membarrier();

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "a", &v1, 1), 0);
	cr_assert_eq(sc_solo_self, solo ? 1 : -1);
	sc_cache_lock(c);
	cr_assert_eq(c->solo_held, solo);
	if (solo) {
		/* held, and the mutex is free: nothing atomic was done */
		cr_assert_eq(pthread_mutex_trylock(&c->lock.mutex), 0);
		pthread_mutex_unlock(&c->lock.mutex);
		cr_assert_eq(atomic_load(&sc_solo_depth), 1u);
	}
	sc_cache_unlock(c);
	cr_assert_eq(atomic_load(&sc_solo_depth), 0u);
	cr_assert_eq(sc_cache_find(c, "a"), &v1);
	sc_cache_destroy(c);
}

Test(cache_mt, solo_not_without_membarrier)
{
	struct sc_cache *c;

	cr_assert_eq(refuse_membarrier(), 0);
	c = new_cache();
	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "a", &v1, 1), 0);
	cr_assert_eq(sc_solo_self, -1);
	cr_assert_eq(atomic_load(&sc_solo_ended), (unsigned int)SC_SOLO_ENDED);
	sc_cache_lock(c);
	cr_assert_not(c->solo_held);
	/* the mutex is what holds it */
	cr_assert_neq(pthread_mutex_trylock(&c->lock.mutex), 0);
	sc_cache_unlock(c);
	sc_cache_destroy(c);
}

struct second {
	struct sc_cache *c;
	atomic_int done;
	int ret;
};

static void *second_insert(void *arg)
{
	struct second *s = arg;

	s->ret = sc_cache_insert(s->c, "b", &v2, 1);
	atomic_store(&s->done, 1);
	return NULL;
}

/*
 * The second thread's first lock comes while the solo thread is inside
 * a section without the mutex: it must wait for that section to end.
 * Without the wait for the depth (sc_cache_solo_end()), its insert
 * completes while the first thread still holds the lock.
 */
Test(cache_mt, solo_ends_when_a_second_thread_locks)
{
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	struct second s = { 0 };
	pthread_t t;

	s.c = new_cache();
	cr_assert_not_null(s.c);
	cr_assert_eq(sc_cache_insert(s.c, "a", &v1, 1), 0);
	sc_cache_lock(s.c);
	cr_assert_eq(pthread_create(&t, NULL, second_insert, &s), 0);
	nanosleep(&nap, NULL);
	/* held by this thread, solo or not: the insert waits */
	cr_assert_eq(atomic_load(&s.done), 0);
	sc_cache_unlock(s.c);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(s.ret, 0);
	cr_assert_eq(atomic_load(&sc_solo_ended), (unsigned int)SC_SOLO_ENDED);
	/* from now on this thread takes the mutex too */
	cr_assert_eq(sc_cache_insert(s.c, "c", &v3, 1), 0);
	cr_assert_eq(sc_solo_self, -1);
	sc_cache_lock(s.c);
	cr_assert_not(s.c->solo_held);
	sc_cache_unlock(s.c);
	cr_assert_eq(sc_cache_count(s.c), 3u);
	cr_assert_eq(atomic_load(&sc_solo_depth), 0u);
	sc_cache_destroy(s.c);
}

/*
 * The child of a fork() has the forking thread only: the solo thread
 * stays solo there, and a thread of the child ends the mode as in the
 * parent.
 */
Test(cache_mt, solo_fork_child)
{
	struct sc_cache *c = new_cache();
	bool solo = kernel_has_membarrier();
	int status;
	pid_t pid;

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "a", &v1, 1), 0);
	pid = test_fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct second s = { .c = c };
		pthread_t t;
		int bad = 0;

		bad |= sc_cache_insert(c, "c", &v3, 1) != 0;
		bad |= sc_solo_self != (solo ? 1 : -1);
		bad |= pthread_create(&t, NULL, second_insert, &s) != 0;
		bad |= pthread_join(t, NULL) != 0;
		bad |= s.ret != 0;
		bad |= atomic_load(&sc_solo_ended) != SC_SOLO_ENDED;
		bad |= sc_cache_count(c) != 3;
		_exit(bad);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	/* the parent is still solo */
	cr_assert_eq(sc_solo_self, solo ? 1 : -1);
	cr_assert_eq(sc_cache_count(c), 1u);
	sc_cache_destroy(c);
}

/*
 * membarrier(2) refused after it was registered (a seccomp filter that
 * the program installs later, inherited by the threads it starts then):
 * the mode still ends, through the wait that stands in for the barrier.
 */
Test(cache_mt, solo_ends_when_membarrier_is_refused_later)
{
	struct second s = { 0 };
	struct timespec t0, t1;
	pthread_t t;

	s.c = new_cache();
	cr_assert_not_null(s.c);
	cr_assert_eq(sc_cache_insert(s.c, "a", &v1, 1), 0);
	cr_assert_eq(refuse_membarrier(), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(pthread_create(&t, NULL, second_insert, &s), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(s.ret, 0);
	cr_assert_eq(atomic_load(&sc_solo_ended), (unsigned int)SC_SOLO_ENDED);
	/* the refused barrier was stood in for: the 1 ms wait */
	cr_assert_geq((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec -
			      t0.tv_nsec,
		      1000000L);
	cr_assert_eq(sc_cache_insert(s.c, "c", &v3, 1), 0);
	cr_assert_eq(sc_solo_self, -1);
	cr_assert_eq(sc_cache_count(s.c), 3u);
	sc_cache_destroy(s.c);
}
