// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fork() while another thread is inside a read-side section: the child
 * has one thread, so that section never ends there, and the grace periods
 * the child's caches wait for (an index that grows, a destroy) must not
 * wait for it. The child also starts with the reader list's lock in
 * whatever state the parent had it. Both for a forking thread that had
 * used a cache (registered as a reader) and for one that had not.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "core/internal.h"
#include "core/rcu.h"
#include "../child.h"
#include "helpers.h"

static sem_t in_section, may_leave;

static void *reader_main(void *arg)
{
	(void)arg;
	sc_rcu_read_lock();
	sem_post(&in_section);
	sem_wait(&may_leave);
	sc_rcu_read_unlock();
	return NULL;
}

/* The child's work: exits 0 when everything finished and checked out. */
static int child_work(void)
{
	struct sc_cache_config cfg = { .name = "forked",
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c;
	char key[32];

	alarm(20); /* a grace period waiting for the parent's reader */
	sc_rcu_synchronize();
	c = sc_cache_create(&cfg);
	if (!c)
		return 2;
	/* the index grows several times: old tables wait for readers */
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		if (sc_cache_insert(c, key, VAL(i), 1))
			return 3;
		if (i % 7 == 0 && sc_cache_remove(c, key))
			return 4;
	}
	if (sc_cache_find(c, "key-1") != VAL(1))
		return 5;
	if (sc_cache_check(c, NULL))
		return 6;
	sc_cache_destroy(c);
	return 0;
}

static void fork_with_reader_inside(bool registered)
{
	struct sc_cache *c = NULL;
	pthread_t reader;
	int status;
	pid_t pid;

	if (registered) {
		/* the forking thread is a reader too */
		struct sc_cache_config cfg = { .flags = SC_CACHE_NO_SHRINKER };

		c = sc_cache_create(&cfg);
		cr_assert_not_null(c);
		cr_assert_eq(sc_cache_insert(c, "k", VAL(1), 1), 0);
		cr_assert_eq(sc_cache_find(c, "k"), VAL(1));
	}
	cr_assert_eq(sc_rcu_self.registered, registered);
	sem_init(&in_section, 0, 0);
	sem_init(&may_leave, 0, 0);
	cr_assert_eq(pthread_create(&reader, NULL, reader_main, NULL), 0);
	sem_wait(&in_section);

	pid = test_fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		child_exit(child_work());
	cr_assert_eq(waitpid(pid, &status, 0), pid);

	sem_post(&may_leave);
	pthread_join(reader, NULL);
	cr_assert(WIFEXITED(status), "child killed by signal %d (%s)",
		  WTERMSIG(status),
		  WTERMSIG(status) == SIGALRM ? "hung" : "crashed");
	cr_assert_eq(WEXITSTATUS(status), 0, "child failed at step %d",
		     WEXITSTATUS(status));
	if (c) {
		/* the parent's cache is untouched by the child */
		cr_assert_eq(sc_cache_find(c, "k"), VAL(1));
		sc_cache_destroy(c);
	}
}

Test(cache_fork, reader_inside_registered_forker, .timeout = 60)
{
	fork_with_reader_inside(true);
}

Test(cache_fork, reader_inside_unregistered_forker, .timeout = 60)
{
	fork_with_reader_inside(false);
}
