// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Linearizability of the cache under concurrent use, checked on recorded
 * histories (selftests/cache/lincheck.c: Wing & Gong / Lowe search over a
 * model written from the documented semantics).
 *
 * Each round records one short history, as porcupine's and Knossos's users
 * do: a search for a linearization is exponential in the calls that
 * overlap, so many short histories make a conclusive proof where one long
 * one makes a search that gives up. A round creates a cache, brings it to
 * a known state by calls of one thread (in wide rounds, every other one,
 * an index of 8 to 27 of 40 keys, so that it grows and shrinks; then 0 to
 * 4 random calls), starts four threads together and lets each make 8
 * random calls on a shared handful of string keys and handles: every
 * call of the cache API (insert, find, contains, remove, add, find_key,
 * replace, remove_key, key_valid, get, get_key, entry_put, set_limit,
 * limit, total_cost, count, clear, shrink, age, stats, and calls refused
 * for their arguments), with costs, some above the limit, and pins held
 * across calls. Each call records its invocation and response times
 * (CLOCK_MONOTONIC behind full fences), its arguments, its result and
 * the values whose release callback ran inside it, in order. Then the
 * cache is destroyed with pins still out, while the threads put them.
 * The history, set-up calls included, must be linearizable against the
 * model, with hits held to the cache's concurrency guarantee
 * (lincheck.h), and the stats counters must be consistent with it. The
 * checker must answer: a search that gives up fails the test, as a
 * refusal does. A failure prints the shortest failing prefix of the
 * history that nothing left out could precede, readable, with the
 * model's state and why each next operation was refused.
 *
 * Each policy runs its own rounds: exact LRU, SIEVE and S3-FIFO. An
 * S3-FIFO cache gets a hash seed of the round's while it is empty, and
 * the history carries each key's hash under it, so that the model's ghost
 * remembers the same keys the cache's does; the run reports how many
 * inserts were refused, in how many rounds the cache ended with a ghost
 * and with S's share moved from its first tenth.
 *
 * The checker is itself tested: hand-built histories that break the model
 * (a dropped hit, hits applied out of a thread's order, a lost insert, a
 * release of a value never taken or of a pinned one, a stale handle
 * reaching a value, a wrong stats snapshot) must be refused and correct
 * ones accepted; S3-FIFO's frequencies count hits one by one (two hits
 * promote where one does not, whether one thread made them or two), and
 * admission refuses exactly the new large keys that the ghost does not
 * know once there is a ghost; the victims an insert may choose after hits of three
 * threads, applied late, are exactly those of some interleaving of the
 * hits (all 360 choices checked against a naive enumeration); 32 hits
 * on three keys are checked quickly and a dropped one among them is
 * refused; and histories recorded from the cache, once mutated (a
 * release lost, a release of a value never taken), must be refused.
 *
 * Environment: SC_LIN_SECONDS=n records and checks histories for n
 * seconds per policy instead of a fixed number (make stress);
 * SC_LIN_STRICT=1 demands plain linearizability, every hit applied at its
 * lookup, as the single-lock cache gives; SC_LIN_SEED=n changes the calls
 * made; SC_LIN_OPS=n makes n calls per thread instead of 8 (longer
 * histories: searches grow fast); SC_LIN_LOCKSTEP, SC_LIN_PAUSE and
 * SC_LIN_YIELD tune how the threads' calls are spread (calls between
 * waits for each other, most pause iterations before a call, one call
 * in n yields first).
 */
#include "../mt.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/internal.h"
#include <slabcache.h>

#include "lincheck.h"

#define NR_THREADS 4 /* callers; thread NR_THREADS sets up and destroys */
/*
 * A history is short, as porcupine's and Knossos's users keep theirs:
 * the search for a linearization is exponential in the calls that
 * overlap, and hits applied late multiply the states of each step by the
 * orders they may be applied in. A few calls per thread from a known
 * state keep every search small and conclusive; many histories, not a
 * long one, make the proof. SC_LIN_OPS changes the calls per thread.
 */
#define OPS_PER_THREAD 8
#define MAX_OPS_THREAD 64
/* The set-up thread: up to MAX_PRELUDE calls, then destroy and puts. */
#define MAX_PRELUDE 96
#define MAX_OPS_MAIN (MAX_PRELUDE + 8)
/*
 * Narrow rounds: five string keys under a limit of 10, so entries are few
 * and keys collide often. Wide rounds (every other one): 40 keys under a
 * limit of 40, so the index grows and shrinks while threads look up.
 */
#define NR_KEYS 5
#define WIDE_KEYS 40
#define WIDE_LIMIT 40
#define NR_HANDLE_SLOTS 6
#define NR_SEEN 8
#define MAX_PINS 3
#define LOCKSTEP 2 /* calls between waits for the other threads */
#define LIMIT 10

/* Histories per policy in make check: a few seconds in each build. */
#if defined(CONFIG_SC_TSAN)
#define SHORT_ROUNDS 300
#elif defined(CONFIG_SC_ASAN)
#define SHORT_ROUNDS 500
#else
#define SHORT_ROUNDS 1000
#endif

static const char *key_names[WIDE_KEYS] = {
	"k0",
	"k1",
	"k2",
	/* longer than an entry holds inline: the key slab path */
	"k3-................................................................"
	"..........................................................",
	"k4",
};
static char wide_names[WIDE_KEYS][8];

static void name_keys(void)
{
	for (unsigned int i = NR_KEYS; i < WIDE_KEYS; i++) {
		snprintf(wide_names[i], sizeof(wide_names[i]), "k%u", i);
		key_names[i] = wide_names[i];
	}
}

#define VAL(id) ((void *)(uintptr_t)(id))

struct round;

struct rec_thread {
	struct round *r;
	unsigned int id;
	uint64_t rng;
	unsigned int nr, nr_vals;
	struct {
		struct sc_entry *e;
		unsigned int get_op;
	} pins[MAX_PINS];
	unsigned int nr_pins;
	uint64_t seen[NR_SEEN];
	unsigned int nr_seen;
	struct lin_op ops[MAX_OPS_MAIN > MAX_OPS_THREAD ? MAX_OPS_MAIN :
							  MAX_OPS_THREAD];
};

/* The recording threads, kept from one round to the next. */
struct round {
	struct sc_cache *c;
	bool quit;
	unsigned int nr_keys, nr_calls; /* calls per worker */
	unsigned int lockstep, pause, yield;
	uint64_t limit; /* at creation */
	pthread_t tid[NR_THREADS];
	_Atomic uint64_t handles[NR_HANDLE_SLOTS];
	pthread_barrier_t start, done, collected;
	atomic_uint arrived; /* spin start: relaxed, no happens-before */
	atomic_ulong stray; /* releases outside any recorded call */
	struct rec_thread t[NR_THREADS + 1];
};

static inline uint64_t now_ns(void);

/* The call this thread is in: its release callbacks are recorded there. */
static __thread struct lin_op *cur_op;

static void rec_release(void *value, void *priv)
{
	struct round *r = priv;
	struct lin_op *op = cur_op;

	if (!op) {
		atomic_fetch_add(&r->stray, 1);
		return;
	}
	if (op->nr_rel < LIN_MAX_REL) {
		op->rel_time[op->nr_rel] = now_ns();
		op->rel[op->nr_rel++] = (uint32_t)(uintptr_t)value;
	} else {
		op->rel_overflow = true;
	}
}

static const struct sc_cache_ops rec_ops = { .release = rec_release };

/*
 * A timestamp that orders calls in real time: the fence before drains
 * this thread's stores (a call's effects are visible before its response
 * time is taken), the one after keeps the call's loads from starting
 * before its invocation time. Plain fences: no happens-before for TSan.
 */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("mfence" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
	clock_gettime(CLOCK_MONOTONIC, &ts);
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("lfence" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct rec_thread *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static unsigned int rnd_below(struct rec_thread *t, unsigned int n)
{
	return (unsigned int)(rnd(t) % n);
}

static struct lin_op *op_begin(struct rec_thread *t, unsigned int kind)
{
	struct lin_op *op = &t->ops[t->nr++];

	memset(op, 0, sizeof(*op));
	op->thread = (uint8_t)t->id;
	op->kind = (uint8_t)kind;
	op->key = LIN_NONE;
	op->handle = LIN_NONE;
	cur_op = op;
	op->call = now_ns();
	return op;
}

static void op_end(struct lin_op *op)
{
	op->ret_time = now_ns();
	cur_op = NULL;
}

static uint32_t new_val(struct rec_thread *t)
{
	return (t->id + 1) * 1000 + ++t->nr_vals;
}

static uint64_t rnd_cost(struct rec_thread *t)
{
	unsigned int x = rnd_below(t, 100);

	if (x < 5)
		return 0;
	if (x < 10)
		return t->r->limit + 1 + rnd_below(t, 5); /* above the limit */
	return 1 + rnd_below(t, 4);
}

static void remember(struct rec_thread *t, uint64_t id)
{
	if (!id)
		return;
	if (t->nr_seen < NR_SEEN)
		t->seen[t->nr_seen++] = id;
	else
		t->seen[rnd_below(t, NR_SEEN)] = id;
}

/* A live handle, a stale one, or SC_KEY_NONE. */
static sc_key_t pick_handle(struct rec_thread *t)
{
	unsigned int x = rnd_below(t, 10);
	uint64_t id;

	if (x == 0)
		return SC_KEY_NONE;
	if (x < 7 || !t->nr_seen) {
		/* relaxed: a handle carries no happens-before of its own */
		id = atomic_load_explicit(
			&t->r->handles[rnd_below(t, NR_HANDLE_SLOTS)],
			memory_order_relaxed);
		remember(t, id);
		return (sc_key_t){ id };
	}
	return (sc_key_t){ t->seen[rnd_below(t, t->nr_seen)] };
}

static void lookup_done(struct lin_op *op, void *v)
{
	op->out_val = (uint32_t)(uintptr_t)v;
}

static void do_get(struct rec_thread *t, bool by_handle)
{
	struct sc_cache *c = t->r->c;
	struct sc_entry *e;
	struct lin_op *op;
	sc_key_t h = SC_KEY_NONE;
	unsigned int k = rnd_below(t, t->r->nr_keys);

	if (by_handle)
		h = pick_handle(t);
	op = op_begin(t, by_handle ? LIN_GET_KEY : LIN_GET);
	if (by_handle) {
		op->raw_key = h.id;
		e = sc_cache_get_key(c, h);
	} else {
		op->key = k;
		e = sc_cache_get(c, key_names[k]);
	}
	op->out_val = (uint32_t)(uintptr_t)sc_entry_value(e);
	op->out_cost = sc_entry_cost(e);
	op_end(op);
	if (e) {
		t->pins[t->nr_pins].e = e;
		t->pins[t->nr_pins++].get_op = (unsigned int)(op - t->ops);
	}
}

static void do_put(struct rec_thread *t)
{
	unsigned int i = rnd_below(t, t->nr_pins);
	struct sc_entry *e = t->pins[i].e;
	struct lin_op *op;

	op = op_begin(t, LIN_PUT);
	op->pin = t->pins[i].get_op;
	sc_entry_put(e);
	op_end(op);
	t->pins[i] = t->pins[--t->nr_pins];
}

static void do_bad_arg(struct rec_thread *t)
{
	struct sc_cache *c = t->r->c;
	unsigned int x = rnd_below(t, 7);
	struct lin_op *op = op_begin(t, LIN_BAD_ARG);
	sc_key_t h;

	op->arg = (uint64_t)(int64_t)-EINVAL;
	switch (x) {
	case 0:
		op->what = "insert(\"\", v, 1)";
		op->ret = sc_cache_insert(c, "", VAL(new_val(t)), 1);
		break;
	case 1:
		op->what = "insert(k0, NULL, 1)";
		op->ret = sc_cache_insert(c, key_names[0], NULL, 1);
		break;
	case 2:
		op->what = "add(NULL, 1)";
		h = sc_cache_add(c, NULL, 1);
		op->ret = h.id ? 0 : -errno;
		break;
	case 3:
		op->what = "replace(handle, NULL, 1)";
		op->ret = sc_cache_replace(c, pick_handle(t), NULL, 1);
		break;
	case 4:
		op->what = "find(\"\")";
		op->ret = sc_cache_find(c, "") ? 0 : -errno;
		break;
	case 5:
		op->what = "contains(\"\")";
		op->arg = 0; /* false, not an error */
		op->ret = sc_cache_contains(c, "");
		break;
	default:
		op->what = "stats(NULL)";
		op->ret = sc_cache_stats(c, NULL);
		break;
	}
	op_end(op);
}

static void do_insert(struct rec_thread *t, unsigned int k, uint64_t cost)
{
	uint32_t v = new_val(t);
	struct lin_op *op = op_begin(t, LIN_INSERT);

	op->key = k;
	op->val = v;
	op->arg = cost;
	op->ret = sc_cache_insert(t->r->c, key_names[k], VAL(v), cost);
	op_end(op);
}

static void do_one(struct rec_thread *t)
{
	struct sc_cache *c = t->r->c;
	unsigned int x = rnd_below(t, 1000);
	unsigned int k = rnd_below(t, t->r->nr_keys);
	struct sc_cache_stats st;
	struct lin_op *op;
	sc_key_t h;

	if (x < 190) {
		do_insert(t, k, rnd_cost(t));
	} else if (x < 320) {
		op = op_begin(t, LIN_FIND);
		op->key = k;
		lookup_done(op, sc_cache_find(c, key_names[k]));
		op_end(op);
	} else if (x < 420) {
		if (t->nr_pins == MAX_PINS)
			do_put(t);
		else
			do_get(t, false);
	} else if (x < 490) {
		if (t->nr_pins)
			do_put(t);
		else
			do_get(t, rnd_below(t, 2));
	} else if (x < 540) {
		op = op_begin(t, LIN_REMOVE);
		op->key = k;
		op->ret = sc_cache_remove(c, key_names[k]);
		op_end(op);
	} else if (x < 610) {
		uint64_t cost = rnd_cost(t);
		uint32_t v = new_val(t);

		op = op_begin(t, LIN_ADD);
		op->val = v;
		op->arg = cost;
		h = sc_cache_add(c, VAL(v), cost);
		op->ret = h.id ? 0 : -errno;
		op_end(op);
		op->raw_key = h.id;
		if (h.id) {
			atomic_store_explicit(
				&t->r->handles[rnd_below(t, NR_HANDLE_SLOTS)],
				h.id, memory_order_relaxed);
			remember(t, h.id);
		}
	} else if (x < 670) {
		h = pick_handle(t);
		op = op_begin(t, LIN_FIND_KEY);
		op->raw_key = h.id;
		lookup_done(op, sc_cache_find_key(c, h));
		op_end(op);
	} else if (x < 710) {
		if (t->nr_pins == MAX_PINS)
			do_put(t);
		else
			do_get(t, true);
	} else if (x < 750) {
		uint64_t cost = rnd_cost(t);
		uint32_t v = new_val(t);

		h = pick_handle(t);
		op = op_begin(t, LIN_REPLACE);
		op->raw_key = h.id;
		op->val = v;
		op->arg = cost;
		op->ret = sc_cache_replace(c, h, VAL(v), cost);
		op_end(op);
	} else if (x < 780) {
		h = pick_handle(t);
		op = op_begin(t, LIN_REMOVE_KEY);
		op->raw_key = h.id;
		op->ret = sc_cache_remove_key(c, h);
		op_end(op);
	} else if (x < 795) {
		h = pick_handle(t);
		op = op_begin(t, LIN_KEY_VALID);
		op->raw_key = h.id;
		op->ret = sc_cache_key_valid(c, h);
		op_end(op);
	} else if (x < 810) {
		op = op_begin(t, LIN_CONTAINS);
		op->key = k;
		op->ret = sc_cache_contains(c, key_names[k]);
		op_end(op);
	} else if (x < 830) {
		uint64_t l = t->r->limit;
		const uint64_t limits[] = { 0, l / 2, l, l, l, l * 3 / 2 };

		op = op_begin(t, LIN_SET_LIMIT);
		op->arg = limits[rnd_below(t, 6)];
		op->ret = sc_cache_set_limit(c, op->arg);
		op_end(op);
	} else if (x < 850) {
		op = op_begin(t, LIN_LIMIT);
		op->ret = (int64_t)sc_cache_limit(c);
		op_end(op);
	} else if (x < 870) {
		op = op_begin(t, LIN_TOTAL_COST);
		op->ret = (int64_t)sc_cache_total_cost(c);
		op_end(op);
	} else if (x < 890) {
		op = op_begin(t, LIN_COUNT);
		op->ret = (int64_t)sc_cache_count(c);
		op_end(op);
	} else if (x < 915) {
		op = op_begin(t, LIN_STATS);
		op->ret = sc_cache_stats(c, &st);
		op_end(op);
		op->st_count = st.count;
		op->st_total = st.total_cost;
		op->st_limit = st.limit;
		op->st_pinned = st.pinned;
		op->st_counter[LIN_HITS] = st.hits;
		op->st_counter[LIN_MISSES] = st.misses;
		op->st_counter[LIN_INSERTS] = st.inserts;
		op->st_counter[LIN_REPLACES] = st.replaces;
		op->st_counter[LIN_REMOVES] = st.removes;
		op->st_counter[LIN_EVICTIONS] = st.evictions;
		op->st_counter[LIN_SHRUNK] = st.shrunk;
		op->st_counter[LIN_INSERT_FAILURES] = st.insert_failures;
	} else if (x < 925) {
		op = op_begin(t, LIN_CLEAR);
		sc_cache_clear(c);
		op_end(op);
	} else if (x < 950) {
		op = op_begin(t, LIN_SHRINK);
		op->arg = rnd_below(t, 4);
		op->ret = (int64_t)sc_cache_shrink(c, op->arg);
		op_end(op);
	} else if (x < 985) {
		op = op_begin(t, LIN_AGE);
		op->ret = (int64_t)sc_cache_age(c);
		op_end(op);
	} else {
		do_bad_arg(t);
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Wait until all threads have passed here @goal / NR_THREADS times. On a
 * loaded machine threads run a slice at a time, and a round's calls
 * could all fall in one thread's slice; waiting for the others every few
 * calls (spinning while they run, yielding to let them run) keeps the
 * threads' calls interleaved and, when two cores are free, overlapping.
 * Relaxed: no happens-before between the threads for TSan.
 */
static void lockstep(struct round *r, unsigned int goal)
{
	unsigned int spins = 0;

	atomic_fetch_add_explicit(&r->arrived, 1, memory_order_relaxed);
	while (atomic_load_explicit(&r->arrived, memory_order_relaxed) < goal)
		if (++spins % 64 == 0)
			sched_yield();
		else
			cpu_relax();
}

static void *rec_worker(void *arg)
{
	struct rec_thread *t = arg;
	struct round *r = t->r;

	for (;;) {
		pthread_barrier_wait(&r->start);
		if (r->quit)
			return NULL;
		/*
		 * Start together: the barrier wakes threads one by one, tens
		 * of microseconds apart, about as long as a round's calls
		 * take.
		 */
		lockstep(r, NR_THREADS);
		for (unsigned int i = 0; i < r->nr_calls; i++) {
			if (i % r->lockstep == r->lockstep - 1)
				lockstep(r, NR_THREADS * (i / r->lockstep + 2));
			/*
			 * Random pauses, so that the calls of threads running
			 * at once interleave, and yields, so that threads
			 * sharing a core do.
			 */
			for (unsigned int j = rnd_below(t, r->pause); j; j--)
				cpu_relax();
			if (!rnd_below(t, r->yield))
				sched_yield();
			do_one(t);
		}
		pthread_barrier_wait(&r->done);
		/* the pins outlive the cache: these puts race its destroy */
		while (t->nr_pins)
			do_put(t);
		pthread_barrier_wait(&r->collected);
	}
}

static struct round *recorder_start(void)
{
	struct round *r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	pthread_barrier_init(&r->start, NULL, NR_THREADS + 1);
	pthread_barrier_init(&r->done, NULL, NR_THREADS + 1);
	pthread_barrier_init(&r->collected, NULL, NR_THREADS + 1);
	for (unsigned int i = 0; i <= NR_THREADS; i++) {
		r->t[i].r = r;
		r->t[i].id = i;
	}
	for (unsigned int i = 0; i < NR_THREADS; i++)
		cr_assert_eq(pthread_create(&r->tid[i], NULL, rec_worker,
					    &r->t[i]),
			     0);
	return r;
}

static void recorder_stop(struct round *r)
{
	r->quit = true;
	pthread_barrier_wait(&r->start);
	for (unsigned int i = 0; i < NR_THREADS; i++)
		pthread_join(r->tid[i], NULL);
	pthread_barrier_destroy(&r->start);
	pthread_barrier_destroy(&r->done);
	pthread_barrier_destroy(&r->collected);
	free(r);
}

/* A recorded round, ready to check. */
struct recorded {
	struct lin_history h;
	struct lin_op ops[NR_THREADS * MAX_OPS_THREAD + MAX_OPS_MAIN];
	unsigned long stray;
	const char *bad; /* the recording itself is wrong */
	uint64_t key_hashes[WIDE_KEYS]; /* S3-FIFO */
	bool had_ghost, share_moved; /* S3-FIFO, before destroy */
};

static uint32_t handle_index(uint64_t *raws, uint32_t *n, uint64_t raw,
			     bool add)
{
	for (uint32_t i = 0; i < *n; i++)
		if (raws[i] == raw)
			return add ? LIN_NONE - 1 : i;
	if (!add)
		return LIN_NONE - 1;
	raws[*n] = raw;
	return (*n)++;
}

static bool uses_handle(unsigned int kind)
{
	return kind == LIN_FIND_KEY || kind == LIN_GET_KEY ||
	       kind == LIN_REPLACE || kind == LIN_REMOVE_KEY ||
	       kind == LIN_KEY_VALID;
}

static const char *policy_name(unsigned int policy)
{
	return policy == SC_CACHE_POLICY_S3FIFO ? "S3-FIFO" :
	       policy == SC_CACHE_POLICY_SIEVE	? "SIEVE" :
						  "LRU";
}

static void record_round(struct round *r, struct recorded *rec,
			 unsigned int policy, bool wide, uint64_t seed)
{
	struct sc_cache_config cfg = {
		.name = "lin",
		.limit = wide ? WIDE_LIMIT : LIMIT,
		.ops = &rec_ops,
		.priv = r,
		.flags = SC_CACHE_NO_SHRINKER | policy,
	};
	struct rec_thread *m = &r->t[NR_THREADS];
	uint64_t raws[NR_THREADS * MAX_OPS_THREAD + MAX_OPS_MAIN];
	uint32_t nr_raws = 0, n = 0, off[NR_THREADS + 1];
	struct lin_op *op;

	r->nr_keys = wide ? WIDE_KEYS : NR_KEYS;
	r->limit = cfg.limit;
	r->c = sc_cache_create(&cfg);
	cr_assert_not_null(r->c);
	/*
	 * S3-FIFO's ghost remembers keys by their hash: the model hashes
	 * them as the cache does, under a seed of the round's, set while
	 * the cache is empty.
	 */
	if (policy == SC_CACHE_POLICY_S3FIFO) {
		uint64_t hseed = seed * 0xd6e8feb86659fd93ull + 1;

		cr_assert_eq(sc_cache_set_hash_seed(r->c, hseed), 0);
		for (unsigned int i = 0; i < WIDE_KEYS; i++)
			rec->key_hashes[i] = sc_key_hash(hseed, key_names[i],
							 strlen(key_names[i]));
	}
	atomic_store(&r->stray, 0);
	atomic_store_explicit(&r->arrived, 0, memory_order_relaxed);
	for (unsigned int i = 0; i < NR_HANDLE_SLOTS; i++)
		atomic_store_explicit(&r->handles[i], 0, memory_order_relaxed);
	for (unsigned int i = 0; i <= NR_THREADS; i++) {
		struct rec_thread *t = &r->t[i];

		t->rng = (seed + 1) * 0x9e3779b97f4a7c15ull ^
			 (i + 1) * 0xbf58476d1ce4e5b9ull;
		t->nr = t->nr_vals = t->nr_pins = t->nr_seen = 0;
	}
	/*
	 * A known state to start from, reached by calls of one thread
	 * (recorded: they are part of the history, and being sequential
	 * they cost the search nothing): in wide rounds an index of 8 to 27
	 * entries, then, in any round, a few random calls.
	 */
	if (wide && policy == SC_CACHE_POLICY_S3FIFO) {
		/*
		 * S3-FIFO: past the limit, with hits and a lower limit now
		 * and then, so that both queues evict into the ghost and
		 * keys come back from it, moving S's share by the ghost's
		 * ratio of tags.
		 */
		for (unsigned int i = 24 + rnd_below(m, 64); i; i--) {
			unsigned int x = rnd_below(m, 20);
			unsigned int k = rnd_below(m, WIDE_KEYS);

			if (x < 6) {
				op = op_begin(m, LIN_FIND);
				op->key = k;
				lookup_done(op,
					    sc_cache_find(r->c, key_names[k]));
				op_end(op);
			} else if (x < 7) {
				op = op_begin(m, LIN_SET_LIMIT);
				op->arg = rnd_below(m, 2) ? WIDE_LIMIT / 2 :
							    WIDE_LIMIT;
				op->ret = sc_cache_set_limit(r->c, op->arg);
				op_end(op);
			} else {
				do_insert(m, k, 1);
			}
		}
	} else if (wide) {
		for (unsigned int i = 8 + rnd_below(m, 20); i; i--)
			do_insert(m, rnd_below(m, WIDE_KEYS), 1);
	}
	for (unsigned int i = rnd_below(m, 5); i; i--)
		do_one(m);
	pthread_barrier_wait(&r->start);
	pthread_barrier_wait(&r->done);
	rec->had_ghost = rec->share_moved = false;
	if (policy == SC_CACHE_POLICY_S3FIFO) {
		struct sc_s3fifo_state ps;

		/* what the round reached: not a call of the history */
		sc_cache_s3fifo_state(r->c, &ps);
		rec->had_ghost = ps.ghost_buckets;
		rec->share_moved = ps.small_target !=
				   sc_cache_limit(r->c) * 10 / 100;
	}
	op = op_begin(m, LIN_DESTROY);
	sc_cache_destroy(r->c);
	op_end(op);
	while (m->nr_pins)
		do_put(m);
	pthread_barrier_wait(&r->collected);

	/* one history: threads' ops end to end, puts and handles renumbered */
	rec->bad = NULL;
	for (unsigned int i = 0; i <= NR_THREADS; i++) {
		off[i] = n;
		memcpy(&rec->ops[n], r->t[i].ops, r->t[i].nr * sizeof(*op));
		n += r->t[i].nr;
	}
	for (uint32_t i = 0; i < n; i++) {
		op = &rec->ops[i];
		if (op->kind == LIN_PUT)
			op->pin += off[op->thread];
		if (op->kind == LIN_ADD && op->raw_key) {
			op->handle =
				handle_index(raws, &nr_raws, op->raw_key, true);
			if (op->handle == LIN_NONE - 1)
				rec->bad = "two adds returned the same handle";
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		op = &rec->ops[i];
		if (!uses_handle(op->kind) &&
		    !(op->kind == LIN_BAD_ARG && op->raw_key))
			continue;
		if (!op->raw_key)
			continue;
		op->key = handle_index(raws, &nr_raws, op->raw_key, false);
		if (op->key == LIN_NONE - 1)
			rec->bad = "a handle no add returned";
	}
	rec->h = (struct lin_history){
		.sieve = policy == SC_CACHE_POLICY_SIEVE,
		.s3fifo = policy == SC_CACHE_POLICY_S3FIFO,
		.key_hashes = rec->key_hashes,
		.limit = r->limit,
		.nr_ops = n,
		.ops = rec->ops,
		.key_names = key_names,
		.nr_keys = r->nr_keys,
	};
	rec->stray = atomic_load(&r->stray);
}

static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *s = getenv(name);

	return s && *s ? strtoul(s, NULL, 0) : def;
}

/*
 * Mutate an accepted history so that it is surely wrong, and check that
 * the checker says so: one value released twice over (a value never
 * taken, released inside some call), or one release taken away (a value
 * taken and never released).
 */
static void mutants_refused(struct recorded *rec, uint64_t seed)
{
	struct lin_history h = rec->h;
	struct lin_op *ops = malloc(h.nr_ops * sizeof(*ops));
	uint32_t with_rel = UINT32_MAX;
	struct lin_stats st;

	cr_assert_not_null(ops);
	memcpy(ops, rec->ops, h.nr_ops * sizeof(*ops));
	h.ops = ops;
	for (uint32_t i = 0; i < h.nr_ops; i++) {
		uint32_t j = (uint32_t)((i + seed) % h.nr_ops);

		if (ops[j].nr_rel) {
			with_rel = j;
			break;
		}
	}
	/* a release of value 999999, never passed to the cache */
	{
		uint32_t j = (uint32_t)(seed % h.nr_ops);

		if (ops[j].nr_rel < LIN_MAX_REL) {
			ops[j].rel[ops[j].nr_rel++] = 999999;
			cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st),
				     LIN_FAIL);
			ops[j].nr_rel--;
		}
	}
	/* a release lost */
	if (with_rel != UINT32_MAX) {
		struct lin_op *o = &ops[with_rel];

		o->nr_rel--;
		memmove(o->rel, o->rel + 1, o->nr_rel * 4);
		cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st), LIN_FAIL);
	}
	free(ops);
}

/* The most entries a call saw in the cache. */
static uint64_t most_entries(const struct lin_history *h)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < h->nr_ops; i++) {
		const struct lin_op *op = &h->ops[i];

		if (op->kind == LIN_COUNT && (uint64_t)op->ret > n)
			n = (uint64_t)op->ret;
		if (op->kind == LIN_STATS && op->st_count > n)
			n = op->st_count;
	}
	return n;
}

/* Operations that directly follow one of another thread. */
static unsigned int switches(const struct lin_history *h)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < h->nr_ops; i++) {
		const struct lin_op *a = &h->ops[i], *prev = NULL;

		for (uint32_t j = 0; j < h->nr_ops; j++) {
			const struct lin_op *b = &h->ops[j];

			if (b->ret_time < a->call &&
			    (!prev || b->ret_time > prev->ret_time))
				prev = b;
		}
		n += prev && prev->thread != a->thread;
	}
	return n;
}

/* Operations whose interval overlaps one of another thread. */
static unsigned int overlapping(const struct lin_history *h)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < h->nr_ops; i++) {
		const struct lin_op *a = &h->ops[i];

		for (uint32_t j = 0; j < h->nr_ops; j++) {
			const struct lin_op *b = &h->ops[j];

			if (a->thread != b->thread && a->call <= b->ret_time &&
			    b->call <= a->ret_time) {
				n++;
				break;
			}
		}
	}
	return n;
}

static void run_rounds(unsigned int policy)
{
	/* static: still reachable when a failed assertion ends the test */
	static struct recorded *rec;
	struct round *rr = recorder_start();
	unsigned long seconds = env_ulong("SC_LIN_SECONDS", 0);
	unsigned long rounds = seconds ? ULONG_MAX : SHORT_ROUNDS;
	uint64_t seed = env_ulong("SC_LIN_SEED", 1);
	bool strict = env_ulong("SC_LIN_STRICT", 0);
	unsigned long calls = env_ulong("SC_LIN_OPS", OPS_PER_THREAD);
	unsigned long long ops = 0, states = 0, max_states = 0, concurrent = 0,
			   switched = 0, cut = 0;
	unsigned int max_depth = 0, max_succ = 0, max_ops = 0, gave_up = 0;
	unsigned long refused = 0, ghosts = 0, moved = 0;
	uint64_t entries = 0;
	double t_rec = 0, t_check = 0, worst = 0;
	struct timespec t0, t1, t2, start;
	unsigned long r;

	/* room for the calls and the puts of the pins left at the end */
	cr_assert(calls >= 1 && calls <= MAX_OPS_THREAD - MAX_PINS,
		  "SC_LIN_OPS=%lu: 1 to %u", calls, MAX_OPS_THREAD - MAX_PINS);
	rr->nr_calls = (unsigned int)calls;
	rr->lockstep = (unsigned int)env_ulong("SC_LIN_LOCKSTEP", LOCKSTEP);
	rr->pause = (unsigned int)env_ulong("SC_LIN_PAUSE", 32);
	rr->yield = (unsigned int)env_ulong("SC_LIN_YIELD", 16);
	rec = malloc(sizeof(*rec));
	cr_assert_not_null(rec);
	name_keys();
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (r = 0; r < rounds; r++) {
		struct lin_stats st;
		enum lin_verdict v;
		unsigned int bad;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (seconds && secs(&start, &t0) >= (double)seconds)
			break;
		record_round(rr, rec, policy, r % 2, seed * 1000003 + r);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rec->bad || rec->stray) {
			fprintf(stderr, "cache_lin_mt: round %lu: %s\n", r,
				rec->bad ? rec->bad :
					   "a release ran outside any call");
			lin_print_history(stderr, &rec->h);
		}
		cr_assert_null(rec->bad);
		cr_assert_eq(rec->stray, 0);

		v = lin_check(&rec->h, strict ? LIN_STRICT : LIN_GUARANTEE, 0,
			      &st);
		clock_gettime(CLOCK_MONOTONIC, &t2);
		if (v == LIN_FAIL)
			lin_explain(stderr, &rec->h,
				    strict ? LIN_STRICT : LIN_GUARANTEE);
		if (v == LIN_UNKNOWN) {
			/* proves nothing: a failure, as a refusal is */
			gave_up++;
			fprintf(stderr,
				"cache_lin_mt: round %lu: checker gave up: "
				"%s (%llu states)\n",
				r, st.unknown_why, st.states);
			lin_print_history(stderr, &rec->h);
		}
		cr_assert_eq(v, LIN_OK, "round %lu of %s", r,
			     policy_name(policy));
		bad = lin_check_counters(&rec->h, stderr);
		if (bad)
			lin_print_history(stderr, &rec->h);
		cr_assert_eq(bad, 0);
		if (r < 8)
			mutants_refused(rec, seed + r);

		ops += rec->h.nr_ops;
		for (uint32_t i = 0; i < rec->h.nr_ops; i++)
			refused += rec->ops[i].kind == LIN_INSERT &&
				   rec->ops[i].ret == SC_CACHE_NOT_ADMITTED;
		ghosts += rec->had_ghost;
		moved += rec->share_moved;
		if (rec->h.nr_ops > max_ops)
			max_ops = rec->h.nr_ops;
		concurrent += overlapping(&rec->h);
		switched += switches(&rec->h);
		if (most_entries(&rec->h) > entries)
			entries = most_entries(&rec->h);
		states += st.states;
		if (st.states > max_states)
			max_states = st.states;
		if (st.max_depth > max_depth)
			max_depth = st.max_depth;
		if (st.max_succ > max_succ)
			max_succ = st.max_succ;
		cut += st.truncated != 0;
		t_rec += secs(&t0, &t1);
		t_check += secs(&t1, &t2);
		if (secs(&t1, &t2) > worst)
			worst = secs(&t1, &t2);
	}
	fprintf(stderr,
		"cache_lin_mt %s: %lu histories of %u threads x %lu calls "
		"after 0-%u set-up calls, %llu operations (%.1f per history, "
		"at most %u; %llu concurrent with another thread's, %llu "
		"right after one; up to %" PRIu64 " entries); recorded in "
		"%.2f s, checked in %.2f s (%llu states; one history at most "
		"%llu states, %.1f ms, depth %u; one step at most %u "
		"successors, %llu histories with a step cut there); %u gave "
		"up, 0 refused\n",
		policy_name(policy), r, NR_THREADS, calls,
		policy == SC_CACHE_POLICY_S3FIFO ? 91u : 31u, ops,
		r ? (double)ops / (double)r : 0.0, max_ops, concurrent,
		switched, entries, t_rec, t_check, states, max_states,
		worst * 1e3, max_depth, max_succ, cut, gave_up);
	if (policy == SC_CACHE_POLICY_S3FIFO)
		fprintf(stderr,
			"cache_lin_mt S3-FIFO: %lu inserts not admitted; a "
			"ghost at the end of %lu histories, S's share moved "
			"from a tenth in %lu\n",
			refused, ghosts, moved);
	recorder_stop(rr);
	free(rec);
	rec = NULL;
}

Test(cache_lin_mt, lru)
{
	run_rounds(0);
}

Test(cache_lin_mt, sieve)
{
	run_rounds(SC_CACHE_POLICY_SIEVE);
}

Test(cache_lin_mt, s3fifo)
{
	run_rounds(SC_CACHE_POLICY_S3FIFO);
}

/* ------------------------------------------- the checker refuses */

/*
 * Hand-built histories: ops[i] = { call, return, thread, kind, ... }.
 * Times are small integers; equal or overlapping intervals are
 * concurrent.
 */
#define OP(c, r, th, k) \
	.call = (c), .ret_time = (r), .thread = (th), .kind = (k)

static struct lin_history hist(struct lin_op *ops, uint32_t n, bool sieve,
			       uint64_t limit)
{
	for (uint32_t i = 0; i < n; i++)
		if (!uses_handle(ops[i].kind) && ops[i].kind != LIN_ADD &&
		    ops[i].kind != LIN_INSERT && ops[i].kind != LIN_FIND &&
		    ops[i].kind != LIN_GET && ops[i].kind != LIN_REMOVE)
			ops[i].key = LIN_NONE;
	for (uint32_t i = 0; i < n; i++)
		if (ops[i].kind != LIN_ADD)
			ops[i].handle = LIN_NONE;
	return (struct lin_history){ .sieve = sieve,
				     .limit = limit,
				     .nr_ops = n,
				     .ops = ops,
				     .key_names = key_names,
				     .nr_keys = NR_KEYS };
}

static enum lin_verdict check_quiet(struct lin_op *ops, uint32_t n, bool sieve,
				    uint64_t limit, enum lin_mode mode)
{
	struct lin_history h = hist(ops, n, sieve, limit);

	return lin_check(&h, mode, 0, NULL);
}

#define REL1(a) .nr_rel = 1, .rel = { a }
#define REL2(a, b) .nr_rel = 2, .rel = { a, b }

/* insert k0=v1, k1=v2 (limit 2, cost 1 each), then a hit on k0 */
#define FILL_AND_HIT                                                       \
	{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },         \
		{ OP(2, 3, 0, LIN_INSERT), .key = 1, .val = 2, .arg = 1 }, \
	{                                                                  \
		OP(4, 5, 1, LIN_FIND), .key = 0, .out_val = 1              \
	}

Test(cache_lin_mt, checker_accepts_exact_lru)
{
	struct lin_op ops[] = {
		FILL_AND_HIT,
		{ OP(6, 7, 2, LIN_INSERT), .key = 2, .val = 3, .arg = 1,
		  REL1(2) },
	};

	cr_assert_eq(check_quiet(ops, 4, false, 2, LIN_STRICT), LIN_OK);
	cr_assert_eq(check_quiet(ops, 4, false, 2, LIN_GUARANTEE), LIN_OK);
}

Test(cache_lin_mt, checker_refuses_dropped_hit)
{
	/* the hit returned before the insert started: k0 must survive */
	struct lin_op ops[] = {
		FILL_AND_HIT,
		{ OP(6, 7, 2, LIN_INSERT), .key = 2, .val = 3, .arg = 1,
		  REL1(1) },
	};

	cr_assert_eq(check_quiet(ops, 4, false, 2, LIN_GUARANTEE), LIN_FAIL);
	cr_assert_eq(check_quiet(ops, 4, false, 2, LIN_STRICT), LIN_FAIL);
}

Test(cache_lin_mt, checker_hit_concurrent_with_insert)
{
	/*
	 * The hit overlaps the insert, which evicts the entry it found:
	 * fine if hits may land after an insert that was running, not
	 * linearizable in the strict sense.
	 */
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 0, LIN_INSERT), .key = 1, .val = 2, .arg = 1 },
		{ OP(4, 8, 1, LIN_FIND), .key = 0, .out_val = 1 },
		{ OP(5, 7, 2, LIN_INSERT), .key = 2, .val = 3, .arg = 1,
		  REL1(1) },
	};

	cr_assert_eq(check_quiet(ops, 4, false, 2, LIN_GUARANTEE), LIN_OK);
	cr_assert_eq(check_quiet(ops, 4, false, 2, LIN_STRICT), LIN_FAIL);
}

Test(cache_lin_mt, checker_refuses_hits_out_of_thread_order)
{
	/* t1 hits k0 then k1: k0 is older, the insert must evict it */
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 0, LIN_INSERT), .key = 1, .val = 2, .arg = 1 },
		{ OP(4, 5, 1, LIN_FIND), .key = 0, .out_val = 1 },
		{ OP(6, 7, 1, LIN_FIND), .key = 1, .out_val = 2 },
		{ OP(8, 9, 2, LIN_INSERT), .key = 2, .val = 3, .arg = 1,
		  REL1(2) },
	};

	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_FAIL);
	ops[4].rel[0] = 1;
	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_OK);
	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_STRICT), LIN_OK);
}

Test(cache_lin_mt, checker_hits_of_two_threads)
{
	/*
	 * t1 hits k0 and returns, then t2 hits k1; the insert evicts k1,
	 * as if k0 had been used last. The guarantee does not order hits
	 * of different threads (per-thread logs drained by writers may
	 * apply them either way); plain linearizability does.
	 */
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 0, LIN_INSERT), .key = 1, .val = 2, .arg = 1 },
		{ OP(4, 5, 1, LIN_FIND), .key = 0, .out_val = 1 },
		{ OP(6, 7, 2, LIN_FIND), .key = 1, .out_val = 2 },
		{ OP(8, 9, 3, LIN_INSERT), .key = 2, .val = 3, .arg = 1,
		  REL1(2) },
	};

	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_OK);
	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_STRICT), LIN_FAIL);
}

Test(cache_lin_mt, checker_refuses_lost_insert)
{
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 1, LIN_FIND), .key = 0, .out_val = 0 },
	};

	cr_assert_eq(check_quiet(ops, 2, false, 4, LIN_GUARANTEE), LIN_FAIL);
	/* concurrent, the miss may come first */
	ops[1].call = 0;
	cr_assert_eq(check_quiet(ops, 2, false, 4, LIN_GUARANTEE), LIN_OK);
}

Test(cache_lin_mt, checker_refuses_wrong_releases)
{
	struct lin_op ops[] = {
		/* above the limit: not taken, so never released */
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 9,
		  .ret = -EFBIG, REL1(1) },
	};
	struct lin_op twice[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 0, LIN_REMOVE), .key = 0, REL1(1) },
		{ OP(4, 5, 1, LIN_CLEAR), REL1(1) },
	};

	cr_assert_eq(check_quiet(ops, 1, false, 4, LIN_GUARANTEE), LIN_FAIL);
	ops[0].nr_rel = 0;
	cr_assert_eq(check_quiet(ops, 1, false, 4, LIN_GUARANTEE), LIN_OK);
	cr_assert_eq(check_quiet(twice, 3, false, 4, LIN_GUARANTEE), LIN_FAIL);
	twice[2].nr_rel = 0;
	cr_assert_eq(check_quiet(twice, 3, false, 4, LIN_GUARANTEE), LIN_OK);
}

Test(cache_lin_mt, checker_pinned_release)
{
	/* a pinned entry removed is released at its last put, not before */
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 0, LIN_GET), .key = 0, .out_val = 1, .out_cost = 1 },
		{ OP(4, 5, 1, LIN_REMOVE), .key = 0 },
		{ OP(6, 7, 0, LIN_PUT), .pin = 1, REL1(1) },
		{ OP(8, 9, 1, LIN_DESTROY) },
	};

	cr_assert_eq(check_quiet(ops, 5, false, 4, LIN_GUARANTEE), LIN_OK);
	/* released by the remove while pinned */
	ops[2].nr_rel = 1;
	ops[2].rel[0] = 1;
	ops[3].nr_rel = 0;
	cr_assert_eq(check_quiet(ops, 5, false, 4, LIN_GUARANTEE), LIN_FAIL);
	/* a put concurrent with the remove may come first: then the remove
	 * releases it */
	ops[3].call = 3;
	ops[3].ret_time = 6;
	cr_assert_eq(check_quiet(ops, 5, false, 4, LIN_GUARANTEE), LIN_OK);
	/* never released at all: destroy must find nothing left */
	ops[2].nr_rel = 0;
	cr_assert_eq(check_quiet(ops, 5, false, 4, LIN_GUARANTEE), LIN_FAIL);
}

Test(cache_lin_mt, checker_pins_outlive_destroy)
{
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 0, LIN_INSERT), .key = 1, .val = 2, .arg = 1 },
		{ OP(4, 5, 0, LIN_GET), .key = 0, .out_val = 1, .out_cost = 1 },
		{ OP(6, 7, 1, LIN_DESTROY), REL1(2) },
		{ OP(8, 9, 0, LIN_PUT), .pin = 2, REL1(1) },
	};

	cr_assert_eq(check_quiet(ops, 5, false, 4, LIN_GUARANTEE), LIN_OK);
	ops[4].nr_rel = 0; /* the put after destroy forgot to release */
	cr_assert_eq(check_quiet(ops, 5, false, 4, LIN_GUARANTEE), LIN_FAIL);
}

Test(cache_lin_mt, checker_sieve)
{
	/* a hit sets visited: the hand passes k0 and evicts k1 */
	struct lin_op ops[] = {
		FILL_AND_HIT,
		{ OP(6, 7, 2, LIN_INSERT), .key = 2, .val = 3, .arg = 1,
		  REL1(2) },
		/* the hand moved on to k2; k0's bit is clear now */
		{ OP(8, 9, 2, LIN_INSERT), .key = 3, .val = 4, .arg = 1,
		  REL1(1) },
	};

	cr_assert_eq(check_quiet(ops, 5, true, 2, LIN_GUARANTEE), LIN_OK);
	cr_assert_eq(check_quiet(ops, 5, true, 2, LIN_STRICT), LIN_OK);
	ops[3].rel[0] = 1;
	ops[4].rel[0] = 2;
	cr_assert_eq(check_quiet(ops, 5, true, 2, LIN_GUARANTEE), LIN_FAIL);
}

/* S3-FIFO histories: keys hashed to distinct fingerprints, one bucket */
static const uint64_t s3_hashes[NR_KEYS] = {
	0x1000000000000010ull, 0x2000000000000020ull, 0x3000000000000030ull,
	0x4000000000000040ull, 0x5000000000000050ull,
};

static enum lin_verdict check_s3fifo(struct lin_op *ops, uint32_t n,
				     uint64_t limit, enum lin_mode mode)
{
	struct lin_history h = hist(ops, n, false, limit);

	h.s3fifo = true;
	h.key_hashes = s3_hashes;
	return lin_check(&h, mode, 0, NULL);
}

/* k0..k4 = v1..v5 at cost 1 under a limit of 10: all on S, a ghost made */
#define S3_FILL                                                            \
	{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },         \
		{ OP(2, 3, 0, LIN_INSERT), .key = 1, .val = 2, .arg = 1 }, \
		{ OP(4, 5, 0, LIN_INSERT), .key = 2, .val = 3, .arg = 1 }, \
		{ OP(6, 7, 0, LIN_INSERT), .key = 3, .val = 4, .arg = 1 }, \
	{                                                                  \
		OP(8, 9, 0, LIN_INSERT), .key = 4, .val = 5, .arg = 1      \
	}

/*
 * Frequencies count hits, not hit keys: two hits on k0, of two threads
 * or of one, move it to M when an eviction passes it (MOVE_HITS = 2),
 * and k1 goes; one hit leaves k0 the victim. Pending hits applied late
 * must be counted one by one.
 */
Test(cache_lin_mt, checker_s3fifo_counts_hits)
{
	struct lin_op ops[] = {
		S3_FILL,
		{ OP(10, 13, 1, LIN_FIND), .key = 0, .out_val = 1 },
		{ OP(11, 14, 2, LIN_FIND), .key = 0, .out_val = 1 },
		{ OP(20, 21, 0, LIN_SHRINK), .arg = 1, .ret = 1, REL1(2) },
	};

	for (int strict = 0; strict < 2; strict++) {
		enum lin_mode mode = strict ? LIN_STRICT : LIN_GUARANTEE;

		ops[7].rel[0] = 2;
		cr_assert_eq(check_s3fifo(ops, 8, 10, mode), LIN_OK);
		ops[7].rel[0] = 1; /* a hit lost */
		cr_assert_eq(check_s3fifo(ops, 8, 10, mode), LIN_FAIL);
		/* both hits by one thread, in its order */
		ops[6].thread = 1;
		ops[6].call = 15;
		ops[6].ret_time = 16;
		cr_assert_eq(check_s3fifo(ops, 8, 10, mode), LIN_FAIL);
		ops[7].rel[0] = 2;
		cr_assert_eq(check_s3fifo(ops, 8, 10, mode), LIN_OK);
		ops[6].thread = 2;
		ops[6].call = 11;
		ops[6].ret_time = 14;
	}
	/* the second hit concurrent with the shrink: counted or not */
	ops[6].ret_time = 22;
	ops[7].rel[0] = 1;
	cr_assert_eq(check_s3fifo(ops, 8, 10, LIN_GUARANTEE), LIN_OK);
	ops[7].rel[0] = 2;
	cr_assert_eq(check_s3fifo(ops, 8, 10, LIN_GUARANTEE), LIN_OK);
	ops[7].rel[0] = 3; /* never: k1 is older than k2 */
	cr_assert_eq(check_s3fifo(ops, 8, 10, LIN_GUARANTEE), LIN_FAIL);
}

/*
 * Admission: with a ghost (the cache half full), a new key above a tenth
 * of the limit is refused (SC_CACHE_NOT_ADMITTED, the value not taken)
 * and remembered; the same insert again is stored, in M, so that a
 * shrink then takes S's oldest (k0), not it.
 */
Test(cache_lin_mt, checker_s3fifo_admission)
{
	struct lin_op ops[] = {
		S3_FILL,
		{ OP(10, 11, 1, LIN_INSERT), .key = 0, .val = 6, .arg = 2,
		  .ret = 0, REL1(1) }, /* an update: never refused */
		{ OP(12, 13, 1, LIN_REMOVE), .key = 4, .ret = 0, REL1(5) },
		{ OP(14, 15, 2, LIN_INSERT), .key = 4, .val = 7, .arg = 2,
		  .ret = 1 },
		{ OP(16, 17, 2, LIN_INSERT), .key = 4, .val = 8, .arg = 2,
		  .ret = 0 },
		{ OP(18, 19, 0, LIN_SHRINK), .arg = 1, .ret = 1, REL1(2) },
	};

	cr_assert_eq(check_s3fifo(ops, 10, 10, LIN_GUARANTEE), LIN_OK);
	ops[7].ret = 0; /* stored at once */
	ops[8].ret = 1;
	cr_assert_eq(check_s3fifo(ops, 10, 10, LIN_GUARANTEE), LIN_FAIL);
	ops[7].ret = 1;
	ops[8].ret = 1; /* not remembered */
	cr_assert_eq(check_s3fifo(ops, 10, 10, LIN_GUARANTEE), LIN_FAIL);
	ops[8].ret = 0;
	ops[9].rel[0] = 6; /* S's oldest is k1: k0 was updated */
	cr_assert_eq(check_s3fifo(ops, 10, 10, LIN_GUARANTEE), LIN_FAIL);
	ops[9].rel[0] = 2;
	cr_assert_eq(check_s3fifo(ops, 10, 10, LIN_GUARANTEE), LIN_OK);
}

/* Below half the limit there is no ghost: nothing is refused. */
Test(cache_lin_mt, checker_s3fifo_no_ghost_no_refusal)
{
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 1, LIN_INSERT), .key = 1, .val = 2, .arg = 3,
		  .ret = 0 },
		/* now half full: a ghost, and the next large key refused */
		{ OP(4, 5, 1, LIN_INSERT), .key = 2, .val = 3, .arg = 3,
		  .ret = 1 },
	};

	cr_assert_eq(check_s3fifo(ops, 3, 8, LIN_GUARANTEE), LIN_OK);
	ops[1].ret = 1;
	cr_assert_eq(check_s3fifo(ops, 2, 8, LIN_GUARANTEE), LIN_FAIL);
	ops[1].ret = 0;
	ops[2].ret = 0;
	cr_assert_eq(check_s3fifo(ops, 3, 8, LIN_GUARANTEE), LIN_FAIL);
}

Test(cache_lin_mt, checker_refuses_stale_handle)
{
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_ADD), .val = 1, .arg = 1, .handle = 0 },
		{ OP(2, 3, 0, LIN_REMOVE_KEY), .key = 0, REL1(1) },
		{ OP(4, 5, 1, LIN_ADD), .val = 2, .arg = 1, .handle = 1 },
		{ OP(6, 7, 1, LIN_FIND_KEY), .key = 0, .out_val = 2 },
	};

	cr_assert_eq(check_quiet(ops, 4, false, 4, LIN_GUARANTEE), LIN_FAIL);
	ops[3].out_val = 0;
	cr_assert_eq(check_quiet(ops, 4, false, 4, LIN_GUARANTEE), LIN_OK);
	ops[3].key = 1;
	ops[3].out_val = 2;
	cr_assert_eq(check_quiet(ops, 4, false, 4, LIN_GUARANTEE), LIN_OK);
	/* the same handle returned again while still valid */
	ops[2].handle = 0;
	ops[1].kind = LIN_KEY_VALID;
	ops[1].ret = 1;
	ops[1].nr_rel = 0;
	ops[3].key = 0;
	cr_assert_eq(check_quiet(ops, 4, false, 4, LIN_GUARANTEE), LIN_FAIL);
}

Test(cache_lin_mt, checker_stats)
{
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 3 },
		{ OP(2, 3, 0, LIN_FIND), .key = 0, .out_val = 1 },
		{ OP(4, 5, 1, LIN_STATS), .st_count = 1, .st_total = 3,
		  .st_limit = 4,
		  .st_counter = { [LIN_HITS] = 1, [LIN_INSERTS] = 1 } },
	};
	struct lin_history h;

	cr_assert_eq(check_quiet(ops, 3, false, 4, LIN_GUARANTEE), LIN_OK);
	h = hist(ops, 3, false, 4);
	cr_assert_eq(lin_check_counters(&h, stderr), 0);
	ops[2].st_total = 2;
	cr_assert_eq(check_quiet(ops, 3, false, 4, LIN_GUARANTEE), LIN_FAIL);
	ops[2].st_total = 3;
	ops[2].st_counter[LIN_HITS] = 0; /* a hit that returned, not counted */
	cr_assert_eq(lin_check_counters(&h, stderr), 1);
}

Test(cache_lin_mt, checker_explains)
{
	struct lin_op ops[] = {
		FILL_AND_HIT,
		{ OP(6, 7, 2, LIN_INSERT), .key = 2, .val = 3, .arg = 1,
		  REL1(1) },
		{ OP(8, 9, 2, LIN_COUNT), .ret = 2 },
	};
	struct lin_history h = hist(ops, 5, false, 2);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	lin_explain(f, &h, LIN_GUARANTEE);
	fclose(f);
	/* the count is not needed to fail: the prefix stops at the insert */
	cr_assert_not_null(
		strstr(buf, "shortest failing closed prefix has 4 of"));
	cr_assert_not_null(strstr(buf, "released [ v1 ]; the model releases "
				       "[ v2 ]"));
	free(buf);
}

/*
 * Hits applied late, against every interleaving. Six entries k0..k5 (v1
 * to v6, cost 1, limit 6); threads 1 to 3 hit two of them each, all their
 * hits overlapping; then an insert of cost 4 evicts four entries. The
 * insert must evict exactly what some interleaving of the threads' hits
 * (each thread in its order) leaves first in LRU order, with the hits of
 * thread 3, when they are made while the insert runs, applied or not (a
 * prefix of them). Every one of the 360 ordered choices of four
 * victims is checked against that set, computed here naively.
 */
#define LATE_THREADS 3
#define LATE_HITS 2

static const uint32_t late_seq[LATE_THREADS][LATE_HITS] = {
	{ 1, 2 }, /* t1: k0, k1 */
	{ 3, 1 }, /* t2: k2, k0 */
	{ 4, 5 }, /* t3: k3, k4 */
};

struct late_brute {
	unsigned int take[LATE_THREADS], done[LATE_THREADS];
	uint32_t seq[LATE_THREADS * LATE_HITS];
	unsigned int len, total;
	bool ok[7][7][7][7]; /* victims, in order */
};

static void late_emit(struct late_brute *b)
{
	uint32_t q[6] = { 1, 2, 3, 4, 5, 6 };

	for (unsigned int i = 0; i < b->len; i++) {
		unsigned int p = 0;

		while (q[p] != b->seq[i])
			p++;
		memmove(&q[p], &q[p + 1], (5 - p) * sizeof(q[0]));
		q[5] = b->seq[i];
	}
	b->ok[q[0]][q[1]][q[2]][q[3]] = true;
}

static void late_interleave(struct late_brute *b)
{
	if (b->len == b->total) {
		late_emit(b);
		return;
	}
	for (unsigned int t = 0; t < LATE_THREADS; t++) {
		if (b->done[t] == b->take[t])
			continue;
		b->seq[b->len++] = late_seq[t][b->done[t]++];
		late_interleave(b);
		b->done[t]--;
		b->len--;
	}
}

static void late_check(struct late_brute *b, struct lin_op *ops, uint32_t n,
		       enum lin_mode mode)
{
	struct lin_op *ins = &ops[n - 1];
	unsigned int accepted = 0;

	for (uint32_t a = 1; a <= 6; a++)
		for (uint32_t c = 1; c <= 6; c++)
			for (uint32_t d = 1; d <= 6; d++)
				for (uint32_t e = 1; e <= 6; e++) {
					struct lin_stats st;
					enum lin_verdict v;

					if (a == c || a == d || a == e ||
					    c == d || c == e || d == e)
						continue;
					ins->rel[0] = a;
					ins->rel[1] = c;
					ins->rel[2] = d;
					ins->rel[3] = e;
					{
						struct lin_history h =
							hist(ops, n, false, 6);

						v = lin_check(&h, mode, 0, &st);
					}
					cr_assert_neq(v, LIN_UNKNOWN);
					if ((v == LIN_OK) !=
					    b->ok[a][c][d][e]) {
						struct lin_history h =
							hist(ops, n, false, 6);

						fprintf(stderr,
							"victims v%u v%u v%u "
							"v%u: %s, should be "
							"%s\n",
							a, c, d, e,
							v == LIN_OK ?
								"accepted" :
								"refused",
							b->ok[a][c][d][e] ?
								"accepted" :
								"refused");
						lin_explain(stderr, &h, mode);
					}
					cr_assert_eq(v == LIN_OK,
						     b->ok[a][c][d][e]);
					accepted += v == LIN_OK;
				}
	cr_assert_gt(accepted, 1);
	cr_assert_lt(accepted, 360);
}

Test(cache_lin_mt, checker_hits_applied_late_every_order)
{
	struct lin_op ops[6 + LATE_THREADS * LATE_HITS + 1];
	struct late_brute *b = calloc(1, sizeof(*b));
	uint32_t n = 0;

	cr_assert_not_null(b);
	memset(ops, 0, sizeof(ops));
	for (uint32_t k = 0; k < 6; k++)
		ops[n++] = (struct lin_op){ OP(2 * k, 2 * k + 1, 0, LIN_INSERT),
					    .key = k, .val = k + 1, .arg = 1 };
	/* the hits: each thread's in order, other threads' overlapping */
	for (uint32_t t = 0; t < LATE_THREADS; t++)
		for (uint32_t i = 0; i < LATE_HITS; i++)
			ops[n++] = (struct lin_op){ OP(20 + 10 * i + t,
						       25 + 10 * i + t, 1 + t,
						       LIN_FIND),
						    .key = late_seq[t][i] - 1,
						    .out_val = late_seq[t][i] };
	ops[n++] = (struct lin_op){ OP(50, 51, 0, LIN_INSERT), .key = 6,
				    .val = 7, .arg = 4, .nr_rel = 4 };

	/* every hit returned before the insert: all applied */
	for (unsigned int t = 0; t < LATE_THREADS; t++)
		b->take[t] = LATE_HITS;
	b->total = LATE_THREADS * LATE_HITS;
	late_interleave(b);
	late_check(b, ops, n, LIN_GUARANTEE);

	/*
	 * t3's hits made while the insert runs: any prefix of them may be
	 * applied before it chooses victims (the rest after, or the hits
	 * linearized after it).
	 */
	ops[n - 3].call = 52; /* t3's first hit */
	ops[n - 3].ret_time = 55;
	ops[n - 2].call = 56; /* its second */
	ops[n - 2].ret_time = 60;
	ops[n - 1].ret_time = 100; /* the insert */
	memset(b->ok, 0, sizeof(b->ok));
	for (unsigned int k = 0; k <= LATE_HITS; k++) {
		b->take[2] = k;
		b->total = 2 * LATE_HITS + k;
		late_interleave(b);
	}
	late_check(b, ops, n, LIN_GUARANTEE);
	free(b);
}

/*
 * Many hits of four threads on a few keys before one insert: the orders
 * they can leave are few (at most 3! here), however many interleavings
 * there are (10^13 for 4 x 8 hits). The checker must answer, and still
 * refuse an insert that evicts a hit entry while an entry nobody hit is
 * older.
 */
Test(cache_lin_mt, checker_many_hits_few_keys)
{
	struct lin_op ops[4 + 4 * 8 + 1];
	struct lin_stats st;
	struct lin_history h;
	uint32_t n = 0;

	memset(ops, 0, sizeof(ops));
	for (uint32_t k = 0; k < 4; k++)
		ops[n++] = (struct lin_op){ OP(2 * k, 2 * k + 1, 0, LIN_INSERT),
					    .key = k, .val = k + 1, .arg = 1 };
	for (uint32_t t = 0; t < 4; t++)
		for (uint32_t i = 0; i < 8; i++) {
			uint32_t k = (i * (t + 1) + t) % 3 + 1; /* k1..k3 */

			ops[n++] = (struct lin_op){ OP(100 + 10 * i + t,
						       105 + 10 * i + t, 1 + t,
						       LIN_FIND),
						    .key = k,
						    .out_val = k + 1 };
		}
	/* k0 (v1) was hit by nobody: it goes first */
	ops[n++] = (struct lin_op){ OP(200, 201, 0, LIN_INSERT), .key = 4,
				    .val = 5, .arg = 2, REL2(1, 2) };
	h = hist(ops, n, false, 4);
	/* v2 second: some interleaving ends with k1's last hit first */
	cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st), LIN_OK);
	cr_assert_leq(st.max_succ, 6);
	/* the untouched entry kept, a hit one evicted: a dropped hit */
	ops[n - 1].rel[0] = 2;
	ops[n - 1].rel[1] = 3;
	cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st), LIN_FAIL);
	cr_assert_leq(st.max_succ, 6);
}

/*
 * Hits of @threads threads on sixteen keys (k1..k16, each once, a
 * thread's in turn, the threads' overlapping), all returned before an
 * insert that evicts v@victim; k0 (v1) nobody hit.
 */
static struct lin_history
many_keys_history(struct lin_op *ops, unsigned int threads, uint32_t victim)
{
	uint32_t n = 0;

	memset(ops, 0, (17 + 16 + 1) * sizeof(*ops));
	for (uint32_t k = 0; k < 17; k++)
		ops[n++] = (struct lin_op){ OP(2 * k, 2 * k + 1, 0, LIN_INSERT),
					    .key = k, .val = k + 1, .arg = 1 };
	for (uint32_t j = 0; j < 16; j++) {
		uint32_t t = j % threads, i = j / threads;

		ops[n++] = (struct lin_op){
			OP(100 + 10 * i + t, 105 + 10 * i + t, 1 + t, LIN_FIND),
			.key = j + 1, .out_val = j + 2
		};
	}
	ops[n++] = (struct lin_op){ OP(400, 401, 0, LIN_INSERT), .key = 17,
				    .val = 18, .arg = 1, REL1(victim) };
	return hist(ops, n, false, 17);
}

/*
 * Four threads' hits on sixteen keys can leave 16! / 4!^4 (about 6.3e7)
 * orders, far more than the checker tries in one step. Every order keeps
 * the entry nobody hit the oldest, so the first order tried linearizes
 * the history. An insert that evicts a hit entry instead is refused by
 * every order tried, which proves nothing about the orders not tried:
 * "unknown", not "fail". With one thread's hits there is one order, and
 * the refusal is real.
 */
Test(cache_lin_mt, checker_many_hits_many_keys)
{
	struct lin_op ops[17 + 16 + 1];
	struct lin_stats st;
	struct lin_history h;

	h = many_keys_history(ops, 4, 1);
	cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st), LIN_OK, "%s",
		     st.unknown_why ? st.unknown_why : "");
	cr_assert_gt(st.truncated, 0);
	/* k1 (v2) was hit and k0 was not: a dropped hit */
	h = many_keys_history(ops, 4, 2);
	cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st), LIN_UNKNOWN);
	cr_assert_not_null(st.unknown_why);
	cr_assert_eq(strcmp(st.unknown_why, "too many successor states"), 0);
	h = many_keys_history(ops, 1, 2);
	cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st), LIN_FAIL);
	cr_assert_eq(st.truncated, 0);
	h = many_keys_history(ops, 1, 1);
	cr_assert_eq(lin_check(&h, LIN_GUARANTEE, 0, &st), LIN_OK);
}

/*
 * A pin put while the remove that dropped its entry runs (after the key
 * went, before the remove let go of its reference): the remove releases
 * the value, after the put. Accepted with the release's time, and only if
 * the put started before it; a value released while a pin stays out is
 * refused.
 */
Test(cache_lin_mt, checker_put_during_the_drop)
{
	struct lin_op ops[] = {
		{ OP(0, 1, 0, LIN_INSERT), .key = 0, .val = 1, .arg = 1 },
		{ OP(2, 3, 1, LIN_GET), .key = 0, .out_val = 1, .out_cost = 1 },
		{ OP(4, 20, 0, LIN_REMOVE), .key = 0, REL1(1),
		  .rel_time = { 12 } },
		/* the key is gone by 6: the remove comes before the put */
		{ OP(5, 6, 2, LIN_FIND), .key = 0, .out_val = 0 },
		{ OP(8, 9, 1, LIN_PUT), .pin = 1 },
	};

	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_OK);
	/* untimed: the put must release it */
	ops[2].rel_time[0] = 0;
	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_FAIL);
	ops[2].nr_rel = 0;
	ops[4].nr_rel = 1;
	ops[4].rel[0] = 1;
	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_OK);
	/* released at 12 by the remove, the put started at 13: too late */
	ops[2].nr_rel = 1;
	ops[2].rel_time[0] = 12;
	ops[4].nr_rel = 0;
	ops[4].call = 13;
	ops[4].ret_time = 14;
	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_FAIL);
	/* and with the pin never put */
	cr_assert_eq(check_quiet(ops, 4, false, 2, LIN_GUARANTEE), LIN_FAIL);
	ops[4].call = 8;
	ops[4].ret_time = 9;
	cr_assert_eq(check_quiet(ops, 5, false, 2, LIN_GUARANTEE), LIN_OK);
}
