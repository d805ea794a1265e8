// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Concurrency: worker threads doing get/put, insert, add, find, remove on
 * one cache while another thread runs sc_shrink_memory() in a loop. Every
 * value has its own atomic release counter: at the end each value taken
 * was released exactly once, no other value ever was, a pinned value was
 * never released while pinned, and the total cost matches the values
 * still held; with exact LRU, with SIEVE, whose hits set a visited bit
 * that evictions clear, and with S3-FIFO, whose hits raise a frequency
 * that evictions lower or reset, and which refuses some large new values
 * (the worker then still owns them). Also S3-FIFO hits racing with the
 * evictions that read and change the same flags. Runs under TSan through
 * selftests/mt_runner.c.
 */
#include "../mt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "core/internal.h"
#include <slabcache.h>

#ifdef CONFIG_SC_TSAN
#define OPS_PER_WORKER 20000ul
#else
#define OPS_PER_WORKER 150000ul
#endif
#define NR_WORKERS 3
#define NR_KEYS 512
#define MAX_VALUES (NR_WORKERS * OPS_PER_WORKER + 16)

#define VAL(i) ((void *)(uintptr_t)((uintptr_t)(i) + 1))
#define VAL_ID(v) ((uintptr_t)(v)-1)
/* now and then above a tenth of the limit: S3-FIFO may refuse those */
#define COST(id) ((size_t)((id) % 53 == 7 ? 450 : (id) % 61))

struct shared {
	struct sc_cache *c;
	atomic_uchar *released, *taken;
	atomic_ulong next_val;
	atomic_ulong bad_release;
	atomic_bool stop;
	atomic_bool final; /* count what the final clear releases */
	atomic_ulong final_count, final_cost;
	atomic_ulong pinned_released; /* a pinned value was released */
};

static void mt_release(void *value, void *priv)
{
	struct shared *sh = priv;
	uintptr_t id = VAL_ID(value);

	if (id >= MAX_VALUES || !atomic_load(&sh->taken[id])) {
		atomic_fetch_add(&sh->bad_release, 1);
		return;
	}
	atomic_fetch_add(&sh->released[id], 1);
	if (atomic_load(&sh->final)) {
		atomic_fetch_add(&sh->final_count, 1);
		atomic_fetch_add(&sh->final_cost, COST(id));
	}
	/* a release may call back into the cache */
	if (id % 97 == 0)
		sc_cache_find(sh->c, "k1");
}

static const struct sc_cache_ops mt_ops = { .release = mt_release };

struct worker {
	struct shared *sh;
	uint64_t rng;
	int idx;
};

static uint64_t rnd(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/*
 * The value is marked taken before the call: a release can only come
 * after a successful insert, and another thread may evict it at once.
 */
static unsigned long new_value(struct shared *sh)
{
	unsigned long id = atomic_fetch_add(&sh->next_val, 1);

	atomic_store(&sh->taken[id], 1);
	return id;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct sc_entry *pins[4] = { NULL };
	sc_key_t handles[16] = { { 0 } };
	char key[32];

	for (unsigned long i = 0; i < OPS_PER_WORKER; i++) {
		unsigned int r = rnd(w) % 100;
		unsigned int k = rnd(w) % NR_KEYS;
		unsigned int slot = rnd(w) % 4;

		snprintf(key, sizeof(key), "k%u", k);
		if (r < 30) {
			unsigned long id = new_value(sh);

			/* not 0: not taken (SC_CACHE_NOT_ADMITTED too) */
			if (sc_cache_insert(sh->c, key, VAL(id), COST(id)))
				atomic_store(&sh->taken[id], 0);
		} else if (r < 40) {
			unsigned long id = new_value(sh);
			sc_key_t h = sc_cache_add(sh->c, VAL(id), COST(id));

			if (!h.id)
				atomic_store(&sh->taken[id], 0);
			handles[rnd(w) % 16] = h;
		} else if (r < 60) {
			sc_cache_find(sh->c, key);
		} else if (r < 70) {
			sc_cache_remove(sh->c, key);
		} else if (r < 75) {
			sc_cache_remove_key(sh->c, handles[rnd(w) % 16]);
		} else if (r < 90) {
			struct sc_entry *e = pins[slot];

			if (e) {
				uintptr_t id = VAL_ID(sc_entry_value(e));

				/* pinned: never released under us */
				if (atomic_load(&sh->released[id]))
					atomic_fetch_add(&sh->pinned_released,
							 1);
				sc_entry_put(e);
				pins[slot] = NULL;
			} else if (rnd(w) % 2) {
				pins[slot] = sc_cache_get(sh->c, key);
			} else {
				pins[slot] = sc_cache_get_key(
					sh->c, handles[rnd(w) % 16]);
			}
			if (pins[slot] && atomic_load(&sh->released[VAL_ID(
						  sc_entry_value(pins[slot]))]))
				atomic_fetch_add(&sh->pinned_released, 1);
		} else if (r < 95) {
			unsigned long id = new_value(sh);

			if (sc_cache_replace(sh->c, handles[rnd(w) % 16],
					     VAL(id), COST(id)))
				atomic_store(&sh->taken[id], 0);
		} else if (r < 97) {
			sc_cache_find_key(sh->c, handles[rnd(w) % 16]);
		} else if (r < 98) {
			sc_cache_age(sh->c);
		} else if (r < 99) {
			sc_cache_set_limit(sh->c, rnd(w) % 2 ? 4000 : 2000);
		} else if (rnd(w) % 16 == 0) {
			sc_cache_clear(sh->c);
		} else {
			sc_cache_shrink(sh->c, 3);
		}
	}
	for (int s = 0; s < 4; s++)
		sc_entry_put(pins[s]);
	return NULL;
}

/* Store @key again; S3-FIFO's small share is 25 here, so never refused. */
static void insert_again(struct sc_cache *c, const char *key, unsigned int k)
{
	cr_assert_eq(sc_cache_insert(c, key, VAL(k), 1), 0);
}

static void *shrinker_fn(void *arg)
{
	struct shared *sh = arg;
	unsigned long n = 0;

	while (!atomic_load(&sh->stop)) {
		sc_shrink_memory(n % 3 ? SC_PRESSURE_LOW :
				 n % 2 ? SC_PRESSURE_MEDIUM :
					 SC_PRESSURE_CRITICAL);
		n++;
	}
	return NULL;
}

/* Run once per eviction policy: exact LRU, SIEVE, S3-FIFO. */
static void ops_against_shrinker(unsigned int policy)
{
	struct sc_cache_config cfg = { .name = "mt",
				       .limit = 4000,
				       .flags = policy };
	struct shared *sh = calloc(1, sizeof(*sh));
	struct worker w[NR_WORKERS];
	pthread_t tw[NR_WORKERS], ts;
	struct sc_cache_stats st;
	unsigned long lost = 0, twice = 0;

	sh->released = calloc(MAX_VALUES, 1);
	sh->taken = calloc(MAX_VALUES, 1);
	cfg.ops = &mt_ops;
	cfg.priv = sh;
	sh->c = sc_cache_create(&cfg);
	cr_assert_not_null(sh->c);

	cr_assert_eq(pthread_create(&ts, NULL, shrinker_fn, sh), 0);
	for (int i = 0; i < NR_WORKERS; i++) {
		w[i] = (struct worker){ sh, 0x9e3779b97f4a7c15ull * (i + 1),
					i };
		cr_assert_eq(pthread_create(&tw[i], NULL, worker_fn, &w[i]), 0);
	}
	for (int i = 0; i < NR_WORKERS; i++)
		pthread_join(tw[i], NULL);
	atomic_store(&sh->stop, true);
	pthread_join(ts, NULL);

	cr_assert_eq(sc_cache_check(sh->c, NULL), 0);
	/* the cost still held is that of the values not yet released */
	sc_cache_stats(sh->c, &st);
	cr_assert_eq(st.pinned, 0);
	cr_assert_leq(st.total_cost, st.limit);
	cr_assert_gt(st.shrunk, 0, "the shrinker ran against the workers");
	atomic_store(&sh->final, true);
	sc_cache_clear(sh->c);
	cr_assert_eq(atomic_load(&sh->final_count), st.count);
	cr_assert_eq(atomic_load(&sh->final_cost), st.total_cost);
	sc_cache_destroy(sh->c);

	for (unsigned long id = 0; id < atomic_load(&sh->next_val); id++) {
		unsigned int t = atomic_load(&sh->taken[id]);
		unsigned int r = atomic_load(&sh->released[id]);

		lost += t && !r;
		twice += r > 1;
	}
	cr_assert_eq(lost, 0, "values never released");
	cr_assert_eq(twice, 0, "values released twice");
	cr_assert_eq(atomic_load(&sh->bad_release), 0);
	cr_assert_eq(atomic_load(&sh->pinned_released), 0);
	free(sh->released);
	free(sh->taken);
	free(sh);
}

Test(cache_mt, ops_against_shrinker)
{
	ops_against_shrinker(0);
}

Test(cache_mt, ops_against_shrinker_sieve)
{
	ops_against_shrinker(SC_CACHE_POLICY_SIEVE);
}

Test(cache_mt, ops_against_shrinker_s3fifo)
{
	ops_against_shrinker(SC_CACHE_POLICY_S3FIFO);
}

/*
 * S3-FIFO: readers raise the frequencies of a hot set (compare-and-swap)
 * while a writer inserts new keys, whose evictions lower frequencies
 * (atomic subtract), move entries from the small queue to the main one
 * (compare-and-swap) and mark the victims unlinked (atomic or), all on the
 * same flags bytes. No update may lose another: the checker finds every
 * entry on the queue its flag names and no bit out of place, and a reader
 * always finds the value stored under its key.
 */
#define HOT_KEYS 48
#define RACE_INSERTS 20000ul

struct racer {
	struct sc_cache *c;
	atomic_bool *stop;
	unsigned long hits, wrong;
	unsigned int seed;
	atomic_bool raced; /* hit while the writer ran (it waits for that) */
};

/*
 * On a loaded machine a reader may start only after the writer's last
 * insert; the writer goes on, 10 s at most, until both have hit.
 */
static bool racers_raced(struct racer *r, int n, time_t t0)
{
	if (time(NULL) - t0 > 10)
		return true;
	for (int i = 0; i < n; i++)
		if (!atomic_load_explicit(&r[i].raced, memory_order_relaxed))
			return false;
	return true;
}

static void *hot_reader(void *arg)
{
	struct racer *r = arg;
	char key[32];

	while (!atomic_load(r->stop)) {
		unsigned int k =
			(r->seed = r->seed * 1103515245u + 12345u) % HOT_KEYS;
		void *v;

		snprintf(key, sizeof(key), "hot%u", k);
		v = sc_cache_find(r->c, key);
		if (!v)
			continue;
		r->hits++;
		r->wrong += VAL_ID(v) != k;
		if (!atomic_load_explicit(&r->raced, memory_order_relaxed))
			atomic_store_explicit(&r->raced, true,
					      memory_order_relaxed);
	}
	return NULL;
}

Test(cache_mt, s3fifo_hits_race_evictions)
{
	struct sc_cache_config cfg = { .name = "s3fifo-race",
				       .limit = 256,
				       .flags = SC_CACHE_NO_SHRINKER |
						SC_CACHE_POLICY_S3FIFO };
	struct racer r[2];
	pthread_t t[2];
	atomic_bool stop;
	char key[32];
	struct sc_cache *c = sc_cache_create(&cfg);
	time_t t0 = time(NULL);

	cr_assert_not_null(c);
	atomic_init(&stop, false);
	for (unsigned int k = 0; k < HOT_KEYS; k++) {
		snprintf(key, sizeof(key), "hot%u", k);
		cr_assert_eq(sc_cache_insert(c, key, VAL(k), 1), 0);
	}
	for (int i = 0; i < 2; i++) {
		r[i] = (struct racer){ .c = c, .stop = &stop, .seed = i + 1u };
		cr_assert_eq(pthread_create(&t[i], NULL, hot_reader, &r[i]), 0);
	}
	for (unsigned long i = 0; i < RACE_INSERTS || !racers_raced(r, 2, t0);
	     i++) {
		unsigned int k = (unsigned int)(i % HOT_KEYS);

		snprintf(key, sizeof(key), "cold%lu", i);
		sc_cache_insert(c, key, VAL(HOT_KEYS + i), 1);
		/* a hot key the policy let go comes back */
		snprintf(key, sizeof(key), "hot%u", k);
		if (!sc_cache_contains(c, key))
			insert_again(c, key, k);
		if (i % 512 == 0)
			cr_assert_eq(sc_cache_check(c, NULL), 0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(r[i].wrong, 0);
		cr_assert_gt(r[i].hits, 0);
	}
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}

/* Pins held by other threads when the cache is destroyed. */
struct pin_arg {
	struct sc_cache *c;
	struct shared *sh;
	pthread_barrier_t *bar;
	int idx;
};

static void count_release(void *value, void *priv)
{
	struct shared *sh = priv;
	uintptr_t id = VAL_ID(value);

	if (id >= 64 || !atomic_load(&sh->taken[id]))
		atomic_fetch_add(&sh->bad_release, 1);
	else
		atomic_fetch_add(&sh->released[id], 1);
}

static const struct sc_cache_ops count_ops = { .release = count_release };

static void *pinner_fn(void *arg)
{
	struct pin_arg *pa = arg;
	struct sc_entry *e[8];
	char key[16];

	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", (pa->idx * 8 + i) % 20);
		e[i] = sc_cache_get(pa->c, key);
	}
	pthread_barrier_wait(pa->bar); /* pinned */
	pthread_barrier_wait(pa->bar); /* destroyed */
	for (int i = 0; i < 8; i++) {
		uintptr_t id = VAL_ID(sc_entry_value(e[i]));

		if (atomic_load(&pa->sh->released[id]))
			atomic_fetch_add(&pa->sh->pinned_released, 1);
		sc_entry_put(e[i]);
	}
	return NULL;
}

Test(cache_mt, put_after_destroy_from_threads)
{
	struct sc_cache_config cfg = { .name = "mtd", .limit = 1000 };
	struct shared *sh = calloc(1, sizeof(*sh));
	pthread_barrier_t bar;
	pthread_t t[4];
	struct pin_arg pa[4];
	struct sc_cache *c;
	char key[16];

	sh->released = calloc(64, 1);
	sh->taken = calloc(64, 1);
	cfg.ops = &count_ops;
	cfg.priv = sh;
	for (int round = 0; round < 20; round++) {
		c = sc_cache_create(&cfg);
		cr_assert_not_null(c);
		for (int i = 0; i < 40; i++) {
			atomic_store(&sh->taken[i], 1);
			atomic_store(&sh->released[i], 0);
			snprintf(key, sizeof(key), "k%d", i);
			cr_assert_eq(sc_cache_insert(c, key, VAL(i), 1), 0);
		}
		pthread_barrier_init(&bar, NULL, 5);
		for (int i = 0; i < 4; i++) {
			pa[i] = (struct pin_arg){ c, sh, &bar, i };
			cr_assert_eq(pthread_create(&t[i], NULL, pinner_fn,
						    &pa[i]),
				     0);
		}
		pthread_barrier_wait(&bar);
		sc_cache_destroy(c);
		/* k20 .. k39 were not pinned: released by destroy */
		for (int i = 20; i < 40; i++)
			cr_assert_eq(atomic_load(&sh->released[i]), 1);
		pthread_barrier_wait(&bar);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&bar);
		for (int i = 0; i < 40; i++)
			cr_assert_eq(atomic_load(&sh->released[i]), 1,
				     "round %d value %d", round, i);
	}
	cr_assert_eq(atomic_load(&sh->bad_release), 0);
	cr_assert_eq(atomic_load(&sh->pinned_released), 0);
	free(sh->released);
	free(sh->taken);
	free(sh);
}
