// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Lock-free lookups and their hit logs (core/queue.c): hits made by other
 * threads are applied before the next eviction, in each thread's order;
 * a thread that exits leaves its pending hits behind and they still count;
 * a thread that cannot allocate its log applies its hit under the lock;
 * a reader that only reads drains its own backlog; a thread's table of
 * logs outlives caches whose slot a new cache takes over; a lookup the
 * index kept moving under answers from the locked path. Also
 * sc_cache_contains(), the SIEVE and S3-FIFO orders of a CRITICAL
 * shrinker pass, and S3-FIFO's frequencies raised by other threads.
 */
#include "../mt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sched.h>
#include <time.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/internal.h"
#include "core/queue.h"
#include "helpers.h"

static char *key_of(char *buf, unsigned long i)
{
	return (char *)kstr(buf, 32, "k", i);
}

/* Fill @c with keys 0..n-1 (cost 1, value i), oldest first. */
static void fill(struct sc_cache *c, unsigned long n)
{
	char k[32];

	for (unsigned long i = 0; i < n; i++)
		cr_assert_eq(sc_cache_insert(c, key_of(k, i), VAL(i), 1), 0);
}

struct finder {
	struct sc_cache *c;
	const unsigned long *keys;
	unsigned long n;
	bool get; /* sc_cache_get/sc_entry_put instead of find */
	unsigned long hits;
};

static void *finder_main(void *arg)
{
	struct finder *f = arg;
	char k[32];

	for (unsigned long i = 0; i < f->n; i++) {
		if (f->get) {
			struct sc_entry *e =
				sc_cache_get(f->c, key_of(k, f->keys[i]));

			f->hits += e != NULL;
			sc_entry_put(e);
		} else {
			f->hits += sc_cache_find(f->c, key_of(k, f->keys[i])) !=
				   NULL;
		}
	}
	return NULL;
}

/* Run @f in a thread of its own and wait for it: its hits have returned. */
static void run_finder(struct finder *f)
{
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, finder_main, f), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(f->hits, f->n);
}

/* The values an eviction of @nr entries releases, in order. */
static unsigned long evicted[64];
static atomic_uint nr_evicted;

static void record_release(void *value, void *priv)
{
	unsigned int i = atomic_fetch_add(&nr_evicted, 1);

	(void)priv;
	if (i < 64)
		evicted[i] = VAL_ID(value);
}

static const struct sc_cache_ops record_ops = { .release = record_release };

static struct sc_cache *mk_recording(size_t limit, unsigned int flags)
{
	struct sc_cache_config cfg = { .name = "hitlog",
				       .limit = limit,
				       .ops = &record_ops,
				       .flags = SC_CACHE_NO_SHRINKER | flags };

	atomic_store(&nr_evicted, 0);
	return sc_cache_create(&cfg);
}

/*
 * Hits of two other threads, each finished before the next starts, are
 * all applied before an insert from this thread chooses its victims: the
 * keys they hit survive, in their order.
 */
static void other_threads_body(bool get)
{
	static const unsigned long a[] = { 0, 1, 2 }, b[] = { 3, 0 };
	struct finder fa = { .keys = a, .n = 3, .get = get };
	struct finder fb = { .keys = b, .n = 2, .get = get };
	struct sc_cache *c = mk_recording(8, 0);
	char k[32];

	cr_assert_not_null(c);
	fill(c, 8); /* LRU order, oldest first: 0 1 2 3 4 5 6 7 */
	fa.c = fb.c = c;
	run_finder(&fa); /* 3 4 5 6 7 0 1 2 */
	run_finder(&fb); /* 4 5 6 7 1 2 3 0 */
	cr_assert_eq(sc_cache_insert(c, key_of(k, 100), VAL(100), 5), 0);
	cr_assert_eq(atomic_load(&nr_evicted), 5);
	cr_assert_eq(evicted[0], 4);
	cr_assert_eq(evicted[1], 5);
	cr_assert_eq(evicted[2], 6);
	cr_assert_eq(evicted[3], 7);
	cr_assert_eq(evicted[4], 1);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}

Test(cache_mt, hits_of_other_threads_before_insert)
{
	other_threads_body(false);
}

Test(cache_mt, pins_of_other_threads_before_insert)
{
	other_threads_body(true);
}

/*
 * A reader that only reads, far past its first chunk: its own backlog
 * drains (or grows), nothing is lost, and the order stays exact.
 */
Test(cache_mt, long_read_only_run_stays_exact)
{
	enum { N = 64, RUN = 20000 };
	static unsigned long keys[RUN];
	struct finder f = { .keys = keys, .n = RUN };
	struct sc_cache *c = mk_recording(N, 0);
	char k[32];
	unsigned int i;

	cr_assert_not_null(c);
	fill(c, N);
	/* 7 is never hit; the last hit, on 9, replaces the last lap's 31 */
	for (i = 0; i < RUN; i++)
		keys[i] = i % N == 7 ? 8 : i % N;
	keys[RUN - 1] = 9;
	f.c = c;
	run_finder(&f);
	/* so 7 is the least recently used, then 31 (hit a lap earlier) */
	cr_assert_eq(sc_cache_insert(c, key_of(k, 100), VAL(100), 3), 0);
	cr_assert_eq(atomic_load(&nr_evicted), 3);
	cr_assert_eq(evicted[0], 7);
	cr_assert_eq(evicted[1], (RUN - 1) % N);
	cr_assert_eq(evicted[2], (RUN - 1) % N + 1);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}

/*
 * A reader that goes on while the lock is held elsewhere (by this
 * thread, standing for a lock holder that was preempted): it made its
 * log before (making one takes the lock), then runs @run lookups once
 * told to go. Lookups alternate over keys 0..@span-1 except 7, as in
 * long_read_only_run_stays_exact, and end on 9.
 */
struct held_reader {
	struct sc_cache *c;
	unsigned long run, span;
	atomic_bool ready, go, done, quit;
	unsigned long hits;
};

static unsigned long held_key(const struct held_reader *h, unsigned long i)
{
	if (i == h->run - 1)
		return 9;
	return i % h->span == 7 ? 8 : i % h->span;
}

static void *held_reader_main(void *arg)
{
	struct held_reader *h = arg;
	char k[32];

	h->hits += sc_cache_find(h->c, key_of(k, 0)) != NULL;
	atomic_store(&h->ready, true);
	while (!atomic_load(&h->go))
		sched_yield();
	for (unsigned long i = 0; i < h->run; i++)
		h->hits += sc_cache_find(h->c, key_of(k, held_key(h, i))) !=
			   NULL;
	atomic_store(&h->done, true);
	/* its log stays this thread's until told: a drain frees an exited one */
	while (!atomic_load(&h->quit))
		sched_yield();
	return NULL;
}

static void held_join(struct held_reader *h, pthread_t t)
{
	atomic_store(&h->quit, true);
	cr_assert_eq(pthread_join(t, NULL), 0);
}

/* The log of @c that is not the calling thread's. Cache lock held. */
static struct sc_hitlog *other_log(struct sc_cache *c, struct sc_hitlog *mine)
{
	for (struct sc_hitlog *l = c->logs; l; l = l->next)
		if (l != mine)
			return l;
	return NULL;
}

/* Wait up to @ms for @flag; return what it then is. */
static bool wait_for(atomic_bool *flag, unsigned int ms)
{
	struct timespec ts = { 0, 1000000 };

	for (unsigned int i = 0; i < ms && !atomic_load(flag); i++)
		nanosleep(&ts, NULL);
	return atomic_load(flag);
}

/*
 * Wait up to @ms for @l's head to reach @at: by time, not by a count of
 * yields, which a loaded machine can spend before the reader runs at all.
 */
static uint64_t wait_for_head(struct sc_hitlog *l, uint64_t at, unsigned int ms)
{
	struct timespec ts = { 0, 1000000 };

	for (unsigned int i = 0; i < ms && atomic_load(&l->head) < at; i++)
		nanosleep(&ts, NULL);
	return atomic_load(&l->head);
}

/*
 * Start @h on @c, with the cache lock held by this thread from before
 * its first lookup of the run. Return: with the lock still held.
 */
/*
 * Start @h's thread on @c and wait until it has its log, before its run:
 * the run starts when h->go is set.
 */
static pthread_t held_spawn(struct sc_cache *c, struct held_reader *h)
{
	pthread_t t;
	char k[32];

	h->c = c;
	/* this thread's log too: the order is lazy, as with two readers */
	cr_assert_not_null(sc_cache_find(c, key_of(k, 0)));
	cr_assert_eq(pthread_create(&t, NULL, held_reader_main, h), 0);
	while (!atomic_load(&h->ready))
		sched_yield();
	return t;
}

static pthread_t held_start(struct sc_cache *c, struct held_reader *h)
{
	pthread_t t = held_spawn(c, h);

	sc_cache_lock(c);
	atomic_store(&h->go, true);
	return t;
}

/*
 * After the run: 7, then the key the last lookup (on 9) replaced and the
 * one after it, last hit a lap earlier, are the oldest.
 */
static void held_check_order(struct sc_cache *c, struct held_reader *h)
{
	struct sc_cache_stats st;
	char k[32];

	cr_assert_eq(h->hits, h->run + 1);
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits, h->run + 2, "every hit counted");
	cr_assert_eq(sc_cache_insert(c, key_of(k, 100), VAL(100), 3), 0);
	cr_assert_eq(atomic_load(&nr_evicted), 3);
	cr_assert_eq(evicted[0], 7);
	cr_assert_eq(evicted[1], (h->run - 1) % h->span);
	cr_assert_eq(evicted[2], (h->run - 1) % h->span + 1);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
}

/*
 * A reader whose own drains all find the lock held goes on into further
 * chunks without waiting, far past a chunk and a half (and past the 64
 * chunks after which it used to wait); the next drain takes them all,
 * in order, keeps at most SC_HITLOG_KEEP_CHUNKS of them for reuse.
 */
Test(cache_mt, reader_goes_on_while_the_lock_is_held)
{
	enum { N = 64 };
	struct held_reader h = { .run = 100 * SC_HITLOG_CHUNK + 40, .span = N };
	struct sc_cache *c = mk_recording(N, 0);
	struct sc_hitlog *l;
	bool done;
	pthread_t t;

	cr_assert_not_null(c);
	fill(c, N);
	t = held_start(c, &h);
	done = wait_for(&h.done, 60000);
	l = other_log(c, sc_hitlog_get(c));
	cr_assert_not_null(l);
	if (done)
		cr_assert_geq(atomic_load(&l->head) - atomic_load(&l->tail),
			      h.run, "all its hits wait in its log");
	sc_cache_unlock(c);
	cr_assert(done, "the reader waited for the lock");
	sc_cache_lock(c);
	__sc_queue_sync_locked(c);
	cr_assert_eq(atomic_load(&l->head), atomic_load(&l->tail));
	cr_assert_leq(atomic_load(&l->nr_chunks), SC_HITLOG_KEEP_CHUNKS,
		      "a drained log keeps a bounded stack");
	sc_cache_unlock(c);
	held_join(&h, t);
	held_check_order(c, &h);
	sc_cache_destroy(c);
}

/*
 * @h's reader, logging into @l while this thread holds the lock, reaches
 * @at hits and stays there (20 ms later still), its run unfinished.
 */
static void assert_reader_waits_at(struct sc_hitlog *l, struct held_reader *h,
				   uint64_t at)
{
	struct timespec ts = { 0, 20000000 };

	cr_assert_eq(wait_for_head(l, at, 60000), at,
		     "the reader stops at %llu hits", (unsigned long long)at);
	nanosleep(&ts, NULL);
	cr_assert_eq(atomic_load(&l->head), at, "and waits there");
	cr_assert_not(atomic_load(&h->done));
}

/*
 * The bound: past SC_HITLOG_MAX_CHUNKS chunks a reader waits for the
 * lock (and then drains everything); no hit is lost either way.
 */
Test(cache_mt, reader_at_the_chunk_bound_waits_for_the_lock)
{
	enum { N = 64, BOUND = (SC_HITLOG_MAX_CHUNKS + 1) * SC_HITLOG_CHUNK };
	struct held_reader h = { .run = BOUND + 3 * SC_HITLOG_CHUNK + 40,
				 .span = N };
	struct sc_cache *c = mk_recording(N, 0);
	struct sc_hitlog *l;
	pthread_t t;

	cr_assert_not_null(c);
	fill(c, N);
	t = held_start(c, &h);
	l = other_log(c, sc_hitlog_get(c));
	cr_assert_not_null(l);
	assert_reader_waits_at(l, &h, BOUND);
	sc_cache_unlock(c);
	cr_assert(wait_for(&h.done, 60000));
	held_join(&h, t);
	held_check_order(c, &h);
	sc_cache_destroy(c);
}

#ifndef SC_MT_RUNNER
/*
 * Below the bound, a chunk that cannot be allocated while the lock is
 * held elsewhere makes the reader wait for the lock there (and then
 * drain everything, and go on in the chunk it is on); no hit is lost.
 */
Test(cache_mt, reader_without_memory_for_a_chunk_waits_for_the_lock)
{
	enum { N = 64, FAIL = 11, AT = FAIL * SC_HITLOG_CHUNK };
	struct held_reader h = { .run = AT + 3 * SC_HITLOG_CHUNK + 40,
				 .span = N };
	struct sc_cache *c = mk_recording(N, 0);
	struct sc_hitlog *l;
	pthread_t t;

	cr_assert_not_null(c);
	fill(c, N);
	t = held_spawn(c, &h);
	sc_cache_lock(c);
	/* the reader's 11th chunk: nothing else allocates meanwhile */
	sc_fault_inject(FAIL);
	atomic_store(&h.go, true);
	l = other_log(c, sc_hitlog_get(c));
	cr_assert_not_null(l);
	assert_reader_waits_at(l, &h, AT);
	cr_assert_eq(atomic_load(&l->nr_chunks), FAIL - 1);
	sc_fault_inject(0);
	sc_cache_unlock(c);
	cr_assert(wait_for(&h.done, 60000));
	held_join(&h, t);
	held_check_order(c, &h);
	sc_cache_destroy(c);
}
#endif

/*
 * A long run of lazy drains allocates chunks only up to the backlog it
 * reaches: the drains hand the finished chunks back and the reader
 * writes them again (it used to keep one spare and allocate the rest
 * each time).
 */
Test(cache_mt, finished_chunks_are_written_again)
{
	enum { N = 64 };
	struct held_reader h = { .run = 200 * SC_HITLOG_CHUNK + 40, .span = N };
	struct sc_cache *c = mk_recording(N, 0);
	unsigned long before;
	struct sc_hitlog *l;
	pthread_t t;

	cr_assert_not_null(c);
	fill(c, N);
	t = held_spawn(c, &h);
	before = sc_fault_allocations();
	atomic_store(&h.go, true);
	cr_assert(wait_for(&h.done, 60000));
	cr_assert_leq(sc_fault_allocations() - before,
		      SC_HITLOG_KEEP_CHUNKS + 2,
		      "chunks allocated once, then written again");
	sc_cache_lock(c);
	l = other_log(c, sc_hitlog_get(c));
	cr_assert_not_null(l);
	cr_assert_leq(atomic_load(&l->nr_chunks), SC_HITLOG_KEEP_CHUNKS);
	sc_cache_unlock(c);
	held_join(&h, t);
	held_check_order(c, &h);
	sc_cache_destroy(c);
}

/* A thread that exited with hits pending: they are applied, counted. */
Test(cache_mt, exited_threads_hits_still_count)
{
	static const unsigned long a[] = { 0 };
	struct finder f = { .keys = a, .n = 1 };
	struct sc_cache *c = mk_recording(4, 0);
	struct sc_cache_stats st;
	char k[32];

	cr_assert_not_null(c);
	fill(c, 4);
	f.c = c;
	run_finder(&f); /* exits before anything drains its log */
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits, 1);
	cr_assert_eq(sc_cache_insert(c, key_of(k, 100), VAL(100), 1), 0);
	cr_assert_eq(evicted[0], 1, "0 was hit: 1 is the oldest");
	/* the dead thread's log is gone, its counts kept */
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits, 1);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}

#ifndef SC_MT_RUNNER
/*
 * A thread whose log cannot be allocated still finds, and its hit is
 * applied at once under the lock.
 */
Test(cache_mt, lookup_without_a_log)
{
	static const unsigned long a[] = { 0 };
	struct finder f = { .keys = a, .n = 1 };
	struct sc_cache *c = mk_recording(4, 0);
	struct sc_cache_stats st;
	char k[32];

	cr_assert_not_null(c);
	fill(c, 4);
	f.c = c;
	/* the new thread's first allocation: its table of logs */
	sc_fault_inject(1);
	run_finder(&f);
	sc_fault_inject(0);
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits, 1);
	cr_assert_eq(sc_cache_insert(c, key_of(k, 100), VAL(100), 1), 0);
	cr_assert_eq(evicted[0], 1);
	sc_cache_destroy(c);
}
#endif

/*
 * Caches come and go; a thread's slot for a destroyed cache is taken
 * over by a new cache with the same slot index, and lookups still land
 * in the right log.
 */
Test(cache_mt, log_slots_reused_across_caches)
{
	for (int round = 0; round < 50; round++) {
		static const unsigned long a[] = { 1, 0 };
		struct finder f = { .keys = a, .n = 2 };
		struct sc_cache *c = mk_recording(3, 0);
		char k[32];

		cr_assert_not_null(c);
		fill(c, 3);
		f.c = c;
		run_finder(&f);
		cr_assert_not_null(sc_cache_find(c, key_of(k, 2)));
		cr_assert_eq(sc_cache_insert(c, key_of(k, 9), VAL(9), 1), 0);
		cr_assert_eq(evicted[0], 1);
		sc_cache_destroy(c);
	}
}

/* A miss the index kept moving under is answered under the lock. */
Test(cache_mt, miss_during_a_shift_asks_the_lock)
{
	struct sc_cache *c = mk_recording(16, 0);
	struct sc_cache_stats st;
	char k[32];

	cr_assert_not_null(c);
	fill(c, 4);
	/* as if a deletion were stopped mid-shift */
	atomic_fetch_add(&c->index_seq, 1);
	cr_assert_null(sc_cache_find(c, "absent"));
	cr_assert_not_null(sc_cache_find(c, key_of(k, 2)));
	cr_assert(!sc_cache_contains(c, "absent"));
	atomic_fetch_add(&c->index_seq, 1);
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.misses, 1);
	cr_assert_eq(st.hits, 1);
	sc_cache_destroy(c);
}

/* contains: present or not, and no use: order and counters untouched. */
Test(cache_mt, contains_is_not_a_use)
{
	struct sc_cache *c = mk_recording(3, 0);
	struct sc_cache_stats st;
	char k[32];

	cr_assert_not_null(c);
	fill(c, 3);
	cr_assert(sc_cache_contains(c, key_of(k, 0)));
	cr_assert(!sc_cache_contains(c, key_of(k, 7)));
	cr_assert(!sc_cache_contains(NULL, key_of(k, 0)));
	cr_assert(!sc_cache_contains(c, NULL));
	cr_assert(!sc_cache_contains(c, ""));
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits + st.misses, 0);
	cr_assert_eq(sc_cache_insert(c, key_of(k, 9), VAL(9), 1), 0);
	cr_assert_eq(evicted[0], 0, "contains did not make 0 recent");
	sc_cache_destroy(c);
}

/*
 * A CRITICAL pass evicts in the policy's order, as sc_cache_shrink()
 * does: A, B, C, with A found @finds times, go B, C, A.
 */
static void critical_pass_order_body(const char *name, unsigned int policy,
				     unsigned int finds)
{
	struct sc_cache_config cfg = {
		.name = name, .limit = 16, .ops = &record_ops, .flags = policy
	};
	struct sc_cache *c;

	atomic_store(&nr_evicted, 0);
	c = sc_cache_create(&cfg);
	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "A", VAL(0), 1), 0);
	cr_assert_eq(sc_cache_insert(c, "B", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_insert(c, "C", VAL(2), 1), 0);
	for (unsigned int i = 0; i < finds; i++)
		cr_assert_not_null(sc_cache_find(c, "A"));
	cr_assert_geq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 3);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_geq(atomic_load(&nr_evicted), 3);
	cr_assert_eq(evicted[0], 1);
	cr_assert_eq(evicted[1], 2);
	cr_assert_eq(evicted[2], 0);
	sc_cache_destroy(c);
}

/* SIEVE: the hand passes the visited A. */
Test(cache_mt, critical_pass_follows_sieve_hand)
{
	critical_pass_order_body("sieve-critical", SC_CACHE_POLICY_SIEVE, 1);
}

/*
 * S3-FIFO: hits of other threads, finished before an insert starts, are
 * in the frequencies its evictions read: the keys hit twice move to the
 * main queue and the next ones go, in their order.
 */
static void s3fifo_other_threads_body(bool get)
{
	static const unsigned long a[] = { 0, 0, 1, 1, 2 }, b[] = { 3, 3, 2 };
	struct finder fa = { .keys = a, .n = 5, .get = get };
	struct finder fb = { .keys = b, .n = 3, .get = get };
	struct sc_cache *c = mk_recording(20, SC_CACHE_POLICY_S3FIFO);
	char k[32];

	cr_assert_not_null(c);
	fill(c, 20); /* all on the small queue (share 2), oldest first */
	fa.c = fb.c = c;
	run_finder(&fa);
	run_finder(&fb);
	for (unsigned long i = 100; i < 105; i++)
		cr_assert_eq(sc_cache_insert(c, key_of(k, i), VAL(i), 1), 0);
	cr_assert_eq(atomic_load(&nr_evicted), 5);
	for (unsigned int i = 0; i < 5; i++)
		cr_assert_eq(evicted[i], 4 + i);
	for (unsigned long i = 0; i < 4; i++)
		cr_assert(sc_cache_contains(c, key_of(k, i)));
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}

Test(cache_mt, s3fifo_hits_of_other_threads_before_insert)
{
	s3fifo_other_threads_body(false);
}

Test(cache_mt, s3fifo_pins_of_other_threads_before_insert)
{
	s3fifo_other_threads_body(true);
}

/*
 * S3-FIFO: A, hit twice, moves to the main queue and goes when the small
 * queue is empty.
 */
Test(cache_mt, critical_pass_follows_s3fifo_order)
{
	critical_pass_order_body("s3fifo-critical", SC_CACHE_POLICY_S3FIFO, 2);
}
