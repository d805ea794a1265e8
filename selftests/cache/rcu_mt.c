// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The two ways a lookup's read-side section is ordered against a writer's
 * grace period (core/rcu.h): membarrier(2), where the kernel offers the
 * private expedited command, and a full barrier in every section where
 * it does not (older kernels, seccomp filters that refuse the call). Each
 * mode gets the same workload: readers pin and read values while a
 * writer replaces and removes them, so every unlinked entry goes through
 * a grace period before its slab object and its value are freed. Under
 * ASan a free that came too early is a use-after-free report; here the
 * values also carry a magic number that their release overwrites.
 *
 * The filter that refuses membarrier(2) is a real seccomp filter,
 * installed in the test's own process before its first section (each
 * test runs in a process of its own).
 */
#include "../mt.h"
#include "../refuse_membarrier.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slabcache.h>

#include "../child.h"
#include "core/rcu.h"

#define LIVE_MAGIC 0x5c11fe5c11fe5c11ull
#define DEAD_MAGIC 0xdeaddeaddeaddeadull
#define NKEYS 64
#define READERS 2
#define WRITES 20000

struct value {
	_Atomic uint64_t magic;
	unsigned long key;
};

static atomic_ulong values_live;

static void value_release(void *v, void *priv)
{
	struct value *val = v;

	(void)priv;
	atomic_store(&val->magic, DEAD_MAGIC);
	atomic_fetch_sub(&values_live, 1);
	free(val);
}

static const struct sc_cache_ops value_ops = { .release = value_release };

static struct value *value_new(unsigned long key)
{
	struct value *v = malloc(sizeof(*v));

	if (v) {
		atomic_init(&v->magic, LIVE_MAGIC);
		v->key = key;
		atomic_fetch_add(&values_live, 1);
	}
	return v;
}

static char *key_str(char *buf, unsigned long i)
{
	snprintf(buf, 32, "rcu-%lu", i);
	return buf;
}

struct reader {
	struct sc_cache *c;
	atomic_bool *stop;
	unsigned long hits, bad;
	atomic_bool raced; /* hit while the writer ran (it waits for that) */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	unsigned long i = 0;
	char k[32];

	while (!atomic_load_explicit(r->stop, memory_order_acquire)) {
		unsigned long key = i++ % NKEYS;
		struct sc_entry *e = sc_cache_get(r->c, key_str(k, key));
		const struct value *v;

		if (!e)
			continue;
		v = sc_entry_value(e);
		r->hits++;
		if (atomic_load(&v->magic) != LIVE_MAGIC || v->key != key)
			r->bad++;
		sc_entry_put(e);
		/* and the unpinned lookup, whose value a writer may drop */
		r->hits += sc_cache_contains(r->c, key_str(k, key + 1));
		if (!atomic_load_explicit(&r->raced, memory_order_relaxed))
			atomic_store_explicit(&r->raced, true,
					      memory_order_relaxed);
	}
	return NULL;
}

static bool readers_raced(struct reader *readers, time_t t0)
{
	if (time(NULL) - t0 > 10)
		return true;
	for (int i = 0; i < READERS; i++)
		if (!atomic_load_explicit(&readers[i].raced,
					  memory_order_relaxed))
			return false;
	return true;
}

/* Readers against a writer that replaces and removes; 0 if all went well. */
static int churn(void)
{
	struct sc_cache_config cfg = {
		.name = "rcu",
		.limit = NKEYS / 2, /* inserts evict as well */
		.ops = &value_ops,
		.flags = SC_CACHE_NO_SHRINKER,
	};
	struct reader readers[READERS] = { 0 };
	pthread_t tids[READERS];
	atomic_bool stop = false;
	unsigned long bad = 0, hits = 0;
	struct sc_cache *c = sc_cache_create(&cfg);
	char k[32];
	int err = 0;
	time_t t0 = time(NULL);

	if (!c)
		return 1;
	for (int i = 0; i < READERS; i++) {
		readers[i] = (struct reader){ .c = c, .stop = &stop };
		if (pthread_create(&tids[i], NULL, reader_main, &readers[i]))
			return 2;
	}
	/*
	 * At least WRITES writes, and on until every reader has hit while
	 * they ran: on a loaded machine the readers may start only after
	 * WRITES writes are done (10 s at most; error 6 below then).
	 */
	for (unsigned long i = 0; i < WRITES || !readers_raced(readers, t0);
	     i++) {
		unsigned long key = (i * 7) % NKEYS;
		struct value *v = value_new(key);

		if (!v) {
			err = 3;
			break;
		}
		if (i % 5 == 4) {
			value_release(v, NULL);
			sc_cache_remove(c, key_str(k, key));
		} else if (sc_cache_insert(c, key_str(k, key), v, 1)) {
			err = 4;
			break;
		}
	}
	atomic_store_explicit(&stop, true, memory_order_release);
	for (int i = 0; i < READERS; i++) {
		pthread_join(tids[i], NULL);
		bad += readers[i].bad;
		hits += readers[i].hits;
	}
	sc_cache_destroy(c);
	if (!err && bad)
		err = 5;
	if (!err && hits == 0)
		err = 6; /* the readers must have raced the writer at all */
	if (!err && atomic_load(&values_live) != 0)
		err = 7; /* every value released exactly once, none leaked */
	return err;
}

static bool kernel_has_membarrier(void)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}

Test(cache_mt, rcu_readers_fence_themselves_without_membarrier)
{
	cr_assert_eq(refuse_membarrier(), 0);
	cr_assert_not(kernel_has_membarrier());
	cr_assert_eq(churn(), 0);
	/* the sections above ran with a barrier of their own */
	cr_assert(sc_rcu_reader_mb);
}

Test(cache_mt, rcu_membarrier_where_the_kernel_has_it)
{
	bool has = kernel_has_membarrier();

	cr_assert_eq(churn(), 0);
	/* readers skip their barrier exactly when the kernel provides it */
	cr_assert_eq(sc_rcu_reader_mb, !has);
}

/*
 * A child of fork() is a new address space, not registered for
 * membarrier(2): it registers again, or falls back to fencing, and its
 * own threads' sections are ordered either way.
 */
Test(cache_mt, rcu_fork_child_orders_its_own_readers)
{
	int status;
	pid_t pid;

	cr_assert_eq(churn(), 0);
	pid = test_fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int err = churn();

		if (!err && sc_rcu_reader_mb == kernel_has_membarrier())
			err = 8;
		child_exit(err);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "the child's churn() gave %d",
		     WEXITSTATUS(status));
}

static atomic_bool idle_reader_go;

/* Registers with one section, then waits outside any section. */
static void *idle_reader(void *arg)
{
	(void)arg;
	sc_rcu_read_lock();
	sc_rcu_read_unlock();
	while (!atomic_load(&idle_reader_go))
		sched_yield();
	return NULL;
}

/*
 * sc_rcu_poll(), for polls under a cache lock: it never runs the
 * readers' barrier itself. Where readers rely on membarrier(2) and
 * another reader is registered, a poll of a new ticket leaves the due
 * barrier to its caller (SC_RCU_BARRIER), never reports the ticket
 * passed before that barrier ran, and reports it passed once
 * sc_rcu_barrier() ran it and no reader is in a section. Where readers
 * fence themselves no barrier is ever asked for.
 */
Test(cache_mt, rcu_poll_leaves_the_barrier_to_its_caller)
{
	enum sc_rcu_poll first, again;
	pthread_t t;
	uint64_t gp;

	/* this thread registers too, as every writer that reads does */
	sc_rcu_read_lock();
	sc_rcu_read_unlock();
	cr_assert_eq(pthread_create(&t, NULL, idle_reader, NULL), 0);
	while (atomic_load(&sc_rcu_nr_readers) < 2)
		sched_yield();
	gp = sc_rcu_start();
	first = sc_rcu_poll(gp, true);
	again = sc_rcu_poll(gp, true);
	if (sc_rcu_readers_fence()) {
		cr_assert_eq(first, SC_RCU_PASSED);
	} else {
		cr_assert_eq(first, SC_RCU_BARRIER);
		/* asked of the first caller, not run yet: never passed */
		cr_assert_neq(again, SC_RCU_PASSED);
		sc_rcu_barrier(gp);
		cr_assert_eq(sc_rcu_poll(gp, true), SC_RCU_PASSED);
	}
	cr_assert(sc_rcu_passed(gp, true));
	atomic_store(&idle_reader_go, true);
	pthread_join(t, NULL);
}
