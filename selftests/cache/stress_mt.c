// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Stress: every cache call from four threads at once, while a shrinker
 * thread runs sc_shrink_memory() at every level, a pressure monitor
 * (sc_pressure_open() with every source that works here, its own thread
 * started) is fed sc_pressure_notify() at every level by another thread,
 * and the workers keep creating private caches (a registered shrinker,
 * either policy), hand pins on their entries to each other through a
 * shared box and destroy them with those pins still out, so that puts
 * from other threads race the destroy and the shrinker passes race both.
 *
 * Checked while it runs: every release is of a value the cache took, the
 * first for it, never while it is pinned; every value a lookup returns
 * (find, get, by string key or handle, stale handles included) was stored
 * under that key, while the index grows and shrinks under it; a pinned
 * entry's value and cost are the ones stored; after calls, total_cost <=
 * limit (read between two reads of a set_limit epoch, so that no
 * set_limit can fall between the two reads); on private caches stats
 * agree with count and limit.
 * Checked at the end of each round: with the pins put, the shared cache's
 * clear releases exactly its count and total_cost, pinned is 0; a last
 * destroy races puts of pins from four threads; then every value taken was
 * released exactly once, no slab cache of the test is left
 * (sc_slabinfo_write()), and under ASan LeakSanitizer finds no leak. In the
 * ASan build, slab objects freed by the library are poisoned, so a
 * deferred free that a reader can still reach is a reported
 * use-after-free; under TSan the same run is race-checked.
 *
 * SC_STRESS_SECONDS=n repeats rounds (both policies in turn) for n
 * seconds instead of one round per policy (make stress).
 */
#include "../mt.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include <slabcache.h>

#ifdef CONFIG_SC_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#if defined(CONFIG_SC_TSAN)
#define OPS_PER_WORKER 30000u
#elif defined(CONFIG_SC_ASAN)
#define OPS_PER_WORKER 120000u
#else
#define OPS_PER_WORKER 300000u
#endif
#define NR_WORKERS 4
#define NR_KEYS 256
#define NR_HANDLES 64
#define NR_BOX 256
#define MY_PINS 6
#define PRIVATE_EVERY 3000u /* ops between private cache cycles */
#define PRIVATE_VALUES 160u
#define S_LIMIT 4000
/* each op takes at most one value, a private cycle PRIVATE_VALUES */
#define MAX_VALUES                                                             \
	(NR_WORKERS * (OPS_PER_WORKER + (OPS_PER_WORKER / PRIVATE_EVERY + 1) * \
						(PRIVATE_VALUES + 8)) +        \
	 256)

#define VAL(id) ((void *)(uintptr_t)((id) + 1))
#define VAL_ID(v) ((uintptr_t)(v)-1)
#define COST(id) ((size_t)((id)*7 % 61))

struct pin {
	struct sc_entry *e;
	uint32_t id;
};

struct stress {
	struct sc_cache *s; /* shared by the workers */
	bool sieve;
	atomic_bool callbacks; /* releases may call back into s */
	atomic_uint_fast32_t next_id;
	atomic_uchar *taken, *released;
	atomic_ushort *pinned;
	/* what each value was stored under: string key + 1, or its handle */
	atomic_ushort *key_of;
	atomic_uint *handle_of;
	/* problems seen, reported at the end */
	atomic_ulong bad_release, twice, pinned_release, wrong_pin;
	atomic_ulong over_limit, stats_mismatch, wrong_key;
	atomic_ulong checks;
	/* set_limit epoch: odd while a set_limit runs */
	atomic_uint limit_epoch;
	_Atomic uint64_t handles[NR_HANDLES];
	/* pins any thread may put */
	pthread_mutex_t box_lock;
	struct pin box[NR_BOX];
	unsigned int nr_box;
	atomic_bool stop;
	atomic_ulong private_cycles, shrink_passes, notifies;
};

struct worker {
	struct stress *st;
	unsigned int idx;
	uint64_t rng;
	struct pin pins[MY_PINS];
	unsigned int nr_pins;
	unsigned long hits; /* lookups whose value was checked */
	char key[160];
};

static uint64_t rnd(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static unsigned int rnd_below(struct worker *w, unsigned int n)
{
	return (unsigned int)(rnd(w) % n);
}

static void stress_release(void *value, void *priv)
{
	struct stress *st = priv;
	uintptr_t id = VAL_ID(value);

	if (id >= MAX_VALUES || !atomic_load(&st->taken[id])) {
		atomic_fetch_add(&st->bad_release, 1);
		return;
	}
	if (atomic_fetch_add(&st->released[id], 1))
		atomic_fetch_add(&st->twice, 1);
	if (atomic_load(&st->pinned[id]))
		atomic_fetch_add(&st->pinned_release, 1);
	/* a release may call back into a cache */
	if (id % 97 == 0 && atomic_load(&st->callbacks))
		sc_cache_find(st->s, "k1");
}

static const struct sc_cache_ops stress_ops = { .release = stress_release };

/*
 * A fresh value id, marked taken before the call: another thread may
 * evict and release it before the call returns. Returns UINT32_MAX when
 * the round's ids are used up.
 */
static uint32_t new_value(struct stress *st)
{
	uint32_t id = (uint32_t)atomic_fetch_add_explicit(&st->next_id, 1,
							  memory_order_relaxed);

	if (id >= MAX_VALUES)
		return UINT32_MAX;
	atomic_store(&st->taken[id], 1);
	return id;
}

static void not_taken(struct stress *st, uint32_t id)
{
	atomic_store(&st->taken[id], 0);
}

static uint32_t fold(uint64_t handle)
{
	return (uint32_t)(handle ^ handle >> 32) | 1;
}

/* A value to store under string key @k. */
static uint32_t value_for_key(struct stress *st, unsigned int k)
{
	uint32_t id = new_value(st);

	if (id != UINT32_MAX)
		atomic_store_explicit(&st->key_of[id], (unsigned short)(k + 1),
				      memory_order_relaxed);
	return id;
}

/* A value to store under a handle: @h, or 0 until sc_cache_add says. */
static uint32_t value_for_handle(struct stress *st, sc_key_t h)
{
	uint32_t id = new_value(st);

	if (id != UINT32_MAX)
		atomic_store_explicit(&st->handle_of[id], fold(h.id),
				      memory_order_relaxed);
	return id;
}

/* A lookup under string key @k found a value stored under it. */
static void check_key(struct worker *w, const void *v, unsigned int k)
{
	struct stress *st = w->st;

	if (!v)
		return;
	w->hits++;
	if (atomic_load_explicit(&st->key_of[VAL_ID(v)],
				 memory_order_relaxed) != k + 1)
		atomic_fetch_add(&st->wrong_key, 1);
}

/* A lookup under handle @h found a value stored under it. */
static void check_handle(struct worker *w, const void *v, sc_key_t h)
{
	struct stress *st = w->st;

	if (!v)
		return;
	w->hits++;
	if (atomic_load_explicit(&st->handle_of[VAL_ID(v)],
				 memory_order_relaxed) != fold(h.id))
		atomic_fetch_add(&st->wrong_key, 1);
}

static const char *key_of(struct worker *w, unsigned int k)
{
	/* every 16th key is long enough for a key slab */
	if (k % 16 == 0)
		snprintf(w->key, sizeof(w->key),
			 "long-%u-..................................."
			 "..........................................",
			 k);
	else
		snprintf(w->key, sizeof(w->key), "k%u", k);
	return w->key;
}

/* A pinned entry: its value is the one stored, alive, not released. */
static void check_pin(struct stress *st, struct sc_entry *e, uint32_t id)
{
	if (VAL_ID(sc_entry_value(e)) != id || sc_entry_cost(e) != COST(id) ||
	    atomic_load(&st->released[id]))
		atomic_fetch_add(&st->wrong_pin, 1);
}

static void pin_taken(struct stress *st, struct pin *p, struct sc_entry *e)
{
	p->e = e;
	p->id = (uint32_t)VAL_ID(sc_entry_value(e));
	atomic_fetch_add(&st->pinned[p->id], 1);
	check_pin(st, e, p->id);
}

static void pin_put(struct stress *st, struct pin *p)
{
	check_pin(st, p->e, p->id);
	atomic_fetch_sub(&st->pinned[p->id], 1);
	sc_entry_put(p->e);
}

/* Into the shared box for another thread to put; or put it now. */
static void box_give(struct stress *st, struct pin p)
{
	bool full;

	pthread_mutex_lock(&st->box_lock);
	full = st->nr_box == NR_BOX;
	if (!full)
		st->box[st->nr_box++] = p;
	pthread_mutex_unlock(&st->box_lock);
	if (full)
		pin_put(st, &p);
}

static bool box_take(struct stress *st, struct pin *p, unsigned int r)
{
	bool got = false;

	pthread_mutex_lock(&st->box_lock);
	if (st->nr_box) {
		unsigned int i = r % st->nr_box;

		*p = st->box[i];
		st->box[i] = st->box[--st->nr_box];
		got = true;
	}
	pthread_mutex_unlock(&st->box_lock);
	return got;
}

/* total_cost <= limit, read where no set_limit can fall in between. */
static void check_limit(struct stress *st)
{
	unsigned int e1, e2;
	size_t total, limit;

	e1 = atomic_load_explicit(&st->limit_epoch, memory_order_acquire);
	if (e1 & 1)
		return;
	total = sc_cache_total_cost(st->s);
	limit = sc_cache_limit(st->s);
	e2 = atomic_load_explicit(&st->limit_epoch, memory_order_acquire);
	if (e1 != e2)
		return;
	atomic_fetch_add_explicit(&st->checks, 1, memory_order_relaxed);
	if (total > limit)
		atomic_fetch_add(&st->over_limit, 1);
}

/*
 * Handles go through a shared pool, published after handle_of is set, so
 * that whoever finds a value through one can tell whose it is.
 */
static sc_key_t pick_handle(struct worker *w)
{
	return (sc_key_t){ atomic_load_explicit(
		&w->st->handles[rnd_below(w, NR_HANDLES)],
		memory_order_acquire) };
}

static void keep_handle(struct worker *w, uint32_t id, sc_key_t h)
{
	if (!h.id)
		return;
	atomic_store_explicit(&w->st->handle_of[id], fold(h.id),
			      memory_order_relaxed);
	atomic_store_explicit(&w->st->handles[rnd_below(w, NR_HANDLES)], h.id,
			      memory_order_release);
}

/* Stats of a cache only this thread changes (and shrinkers shrink). */
static void check_private(struct stress *st, struct sc_cache *p)
{
	struct sc_cache_stats s;

	if (sc_cache_stats(p, &s) || s.total_cost > s.limit)
		atomic_fetch_add(&st->over_limit, 1);
	if (sc_cache_count(p) > s.count || sc_cache_limit(p) != s.limit)
		atomic_fetch_add(&st->stats_mismatch, 1);
}

/*
 * A private cache: filled, used, some pins handed to other threads, then
 * destroyed with those pins out and shrinker passes running over it.
 */
static void private_cycle(struct worker *w)
{
	struct stress *st = w->st;
	struct sc_cache_config cfg = {
		.name = "stress-p",
		.limit = 500 + rnd_below(w, 4000),
		.ops = &stress_ops,
		.priv = st,
		.flags = rnd_below(w, 2) ? SC_CACHE_POLICY_SIEVE : 0,
	};
	struct sc_cache *p = sc_cache_create(&cfg);
	sc_key_t hs[8] = { { 0 } };

	if (!p) {
		atomic_fetch_add(&st->stats_mismatch, 1);
		return;
	}
	for (unsigned int i = 0; i < PRIVATE_VALUES; i++) {
		unsigned int k = rnd_below(w, 64), x = rnd_below(w, 16);
		unsigned int j = rnd_below(w, 8);
		struct sc_entry *e = NULL;
		uint32_t id;

		if (x < 3) {
			sc_key_t h;

			id = value_for_handle(st, SC_KEY_NONE);
			if (id == UINT32_MAX)
				break;
			h = sc_cache_add(p, VAL(id), COST(id));
			if (!h.id)
				not_taken(st, id);
			else
				atomic_store(&st->handle_of[id], fold(h.id));
			hs[j] = h;
		} else {
			id = value_for_key(st, k);
			if (id == UINT32_MAX)
				break;
			if (sc_cache_insert(p, key_of(w, k), VAL(id), COST(id)))
				not_taken(st, id);
		}
		k = rnd_below(w, 64);
		if (x == 3) {
			e = sc_cache_get(p, key_of(w, k));
			check_key(w, sc_entry_value(e), k);
		} else if (x == 4) {
			e = sc_cache_get_key(p, hs[j]);
			check_handle(w, sc_entry_value(e), hs[j]);
		} else if (x == 5) {
			sc_cache_remove(p, key_of(w, k));
		} else if (x == 6) {
			id = value_for_handle(st, hs[j]);
			if (id != UINT32_MAX &&
			    sc_cache_replace(p, hs[j], VAL(id), COST(id)))
				not_taken(st, id);
		} else if (x == 7 && !rnd_below(w, 8)) {
			sc_cache_set_limit(p, 200 + rnd_below(w, 4000));
		} else if (x == 8 && !rnd_below(w, 8)) {
			sc_cache_age(p);
		} else if (x == 9 && !rnd_below(w, 32)) {
			sc_cache_clear(p);
		} else if (x == 10) {
			check_key(w, sc_cache_find(p, key_of(w, k)), k);
		}
		if (e) {
			struct pin pn;

			pin_taken(st, &pn, e);
			box_give(st, pn);
		}
		check_private(st, p);
	}
	sc_cache_destroy(p);
	atomic_fetch_add(&st->private_cycles, 1);
}

static void worker_op(struct worker *w, unsigned long i)
{
	struct stress *st = w->st;
	struct sc_cache *c = st->s;
	unsigned int x = rnd_below(w, 1000);
	unsigned int k = rnd_below(w, NR_KEYS);
	const char *key = key_of(w, k);
	struct sc_cache_stats s;
	struct sc_entry *e = NULL;
	uint32_t id;
	sc_key_t h;

	if (x < 200) {
		id = value_for_key(st, k);
		if (id != UINT32_MAX &&
		    sc_cache_insert(c, key, VAL(id), COST(id)))
			not_taken(st, id);
	} else if (x < 330) {
		check_key(w, sc_cache_find(c, key), k);
	} else if (x < 400) {
		if (w->nr_pins < MY_PINS && (e = sc_cache_get(c, key))) {
			check_key(w, sc_entry_value(e), k);
			pin_taken(st, &w->pins[w->nr_pins++], e);
		}
	} else if (x < 470) {
		struct pin p;

		if (w->nr_pins) {
			unsigned int j = rnd_below(w, w->nr_pins);

			p = w->pins[j];
			w->pins[j] = w->pins[--w->nr_pins];
			/* half to another thread, half put here */
			if (rnd_below(w, 2))
				box_give(st, p);
			else
				pin_put(st, &p);
		}
		if (box_take(st, &p, (unsigned int)rnd(w)))
			pin_put(st, &p);
	} else if (x < 520) {
		sc_cache_remove(c, key);
	} else if (x < 580) {
		id = value_for_handle(st, SC_KEY_NONE);
		if (id != UINT32_MAX) {
			h = sc_cache_add(c, VAL(id), COST(id));
			if (!h.id)
				not_taken(st, id);
			keep_handle(w, id, h);
		}
	} else if (x < 630) {
		h = pick_handle(w);
		check_handle(w, sc_cache_find_key(c, h), h);
	} else if (x < 670) {
		h = pick_handle(w);
		if (w->nr_pins < MY_PINS && (e = sc_cache_get_key(c, h))) {
			check_handle(w, sc_entry_value(e), h);
			pin_taken(st, &w->pins[w->nr_pins++], e);
		}
	} else if (x < 710) {
		h = pick_handle(w);
		id = value_for_handle(st, h);
		if (id != UINT32_MAX &&
		    sc_cache_replace(c, h, VAL(id), COST(id)))
			not_taken(st, id);
	} else if (x < 740) {
		sc_cache_remove_key(c, pick_handle(w));
	} else if (x < 755) {
		sc_cache_key_valid(c, pick_handle(w));
	} else if (x < 770) {
		sc_cache_contains(c, key);
	} else if (x < 780) {
		atomic_fetch_add_explicit(&st->limit_epoch, 1,
					  memory_order_release);
		sc_cache_set_limit(c, rnd_below(w, 8) ? S_LIMIT :
							rnd_below(w, S_LIMIT));
		atomic_fetch_add_explicit(&st->limit_epoch, 1,
					  memory_order_release);
	} else if (x < 830) {
		sc_cache_limit(c);
		sc_cache_total_cost(c);
		sc_cache_count(c);
	} else if (x < 860) {
		if (sc_cache_stats(c, &s))
			atomic_fetch_add(&st->stats_mismatch, 1);
		sc_cache_memory(c);
		sc_cache_entry_memory(c, strlen(key));
	} else if (x < 862) {
		sc_cache_clear(c);
	} else if (x < 900) {
		sc_cache_shrink(c, rnd_below(w, 8));
	} else if (x < 915) {
		sc_cache_age(c);
	} else {
		/* hits dominate real workloads */
		k = rnd_below(w, 8);
		check_key(w, sc_cache_find(c, key_of(w, k)), k);
	}
	if (i % 4 == 0)
		check_limit(st);
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct stress *st = w->st;

	for (unsigned long i = 0; i < OPS_PER_WORKER; i++) {
		worker_op(w, i);
		if (i % PRIVATE_EVERY == PRIVATE_EVERY / 2 + w->idx * 101)
			private_cycle(w);
	}
	while (w->nr_pins)
		box_give(st, w->pins[--w->nr_pins]);
	return NULL;
}

static void *shrinker_fn(void *arg)
{
	struct stress *st = arg;
	unsigned long n = 0;

	while (!atomic_load(&st->stop)) {
		/* every level; CRITICAL empties whole caches, so rarely */
		enum sc_pressure_level l = n % 32 == 31 ? SC_PRESSURE_CRITICAL :
					   n % 3 == 0	? SC_PRESSURE_NONE :
					   n % 3 == 1	? SC_PRESSURE_LOW :
							  SC_PRESSURE_MEDIUM;

		sc_shrink_memory(l);
		atomic_fetch_add(&st->shrink_passes, 1);
		n++;
		if (n % 8 == 0)
			usleep(100);
	}
	return NULL;
}

struct notifier {
	struct stress *st;
	struct sc_pressure *p;
};

static void *notifier_fn(void *arg)
{
	struct notifier *nf = arg;
	unsigned int n = 0;

	while (!atomic_load(&nf->st->stop)) {
		if (!sc_pressure_notify(nf->p,
					(enum sc_pressure_level)(1 + n++ % 3)))
			atomic_fetch_add(&nf->st->notifies, 1);
		usleep(300);
	}
	return NULL;
}

/* Pins of the shared cache held by four threads while it is destroyed. */
struct last_pins {
	struct stress *st;
	pthread_barrier_t *bar;
	unsigned int idx;
};

static void *last_pinner(void *arg)
{
	struct last_pins *lp = arg;
	struct stress *st = lp->st;
	struct pin p[8];
	unsigned int n = 0;
	char key[32];

	for (unsigned int i = 0; i < 8; i++) {
		struct sc_entry *e;

		snprintf(key, sizeof(key), "last%u", (lp->idx * 5 + i) % 24);
		e = sc_cache_get(st->s, key);
		if (e)
			pin_taken(st, &p[n++], e);
	}
	pthread_barrier_wait(lp->bar);
	/* no sleep: these puts race the destroy */
	while (n)
		pin_put(st, &p[--n]);
	return NULL;
}

static bool slabs_of_test_left(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool left;

	cr_assert_not_null(f);
	cr_assert_eq(sc_slabinfo_write(f), 0);
	fclose(f);
	left = strstr(buf, "stress-") != NULL;
	if (left)
		fprintf(stderr, "%s", buf);
	free(buf);
	return left;
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* What the rounds of one test did, for its closing line. */
struct tally {
	unsigned long rounds, private_cycles, shrink_passes, checks, values;
	unsigned long hits;
	unsigned long long notifies, passes, events;
	unsigned int sources;
};

static void stress_round(bool sieve, uint64_t seed, struct tally *ty)
{
	struct stress *st = calloc(1, sizeof(*st));
	struct sc_cache_config cfg = {
		.name = "stress-s",
		.limit = S_LIMIT,
		.ops = &stress_ops,
		.flags = sieve ? SC_CACHE_POLICY_SIEVE : 0,
	};
	struct worker w[NR_WORKERS];
	pthread_t tw[NR_WORKERS], ts, tn, tl[4];
	struct last_pins lp[4];
	pthread_barrier_t bar;
	struct notifier nf;
	struct sc_pressure_stats ps;
	struct sc_cache_stats s;
	struct pin p;
	unsigned long long final_count = 0, final_cost = 0;
	unsigned long lost = 0;
	unsigned int sources;
	struct timespec t0;
	char key[32];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_not_null(st);
	st->taken = calloc(MAX_VALUES, 1);
	st->released = calloc(MAX_VALUES, 1);
	st->pinned = calloc(MAX_VALUES, sizeof(*st->pinned));
	st->key_of = calloc(MAX_VALUES, sizeof(*st->key_of));
	st->handle_of = calloc(MAX_VALUES, sizeof(*st->handle_of));
	cr_assert(st->taken && st->released && st->pinned && st->key_of &&
		  st->handle_of);
	pthread_mutex_init(&st->box_lock, NULL);
	st->sieve = sieve;
	cfg.priv = st;
	st->s = sc_cache_create(&cfg);
	cr_assert_not_null(st->s);
	atomic_store(&st->callbacks, true);

	/* every pressure source that works here, and its own thread */
	nf.st = st;
	nf.p = sc_pressure_open(NULL);
	cr_assert_not_null(nf.p);
	cr_assert_eq(sc_pressure_start_thread(nf.p), 0);

	cr_assert_eq(pthread_create(&ts, NULL, shrinker_fn, st), 0);
	cr_assert_eq(pthread_create(&tn, NULL, notifier_fn, &nf), 0);
	for (unsigned int i = 0; i < NR_WORKERS; i++) {
		w[i] = (struct worker){ .st = st,
					.idx = i,
					.rng = (seed * 4 + i + 1) *
					       0x9e3779b97f4a7c15ull };
		cr_assert_eq(pthread_create(&tw[i], NULL, worker_fn, &w[i]), 0);
	}
	for (unsigned int i = 0; i < NR_WORKERS; i++) {
		pthread_join(tw[i], NULL);
		ty->hits += w[i].hits;
	}
	/*
	 * The round's work is counted in calls, not time, and on a loaded
	 * machine the workers can finish before the shrinker thread or the
	 * monitor's has been scheduled once: give them the time to show
	 * they run (a minute at most, so one that is stuck still fails).
	 */
	for (unsigned int ms = 0; ms < 60000; ms++) {
		cr_assert_eq(sc_pressure_stats(nf.p, &ps), 0);
		if (atomic_load(&st->shrink_passes) && ps.notifies &&
		    ps.passes[1] + ps.passes[2] + ps.passes[3])
			break;
		usleep(1000);
	}
	atomic_store(&st->stop, true);
	pthread_join(ts, NULL);
	pthread_join(tn, NULL);
	cr_assert_eq(sc_pressure_stats(nf.p, &ps), 0);
	sources = sc_pressure_sources(nf.p);
	sc_pressure_close(nf.p);

	/* the pins still out */
	while (box_take(st, &p, 0))
		pin_put(st, &p);

	/* the shared cache: nothing pinned, clear releases exactly it */
	cr_assert_eq(sc_cache_stats(st->s, &s), 0);
	cr_assert_eq(s.pinned, 0);
	cr_assert_leq(s.total_cost, s.limit);
	cr_assert_eq(sc_cache_count(st->s), s.count);
	cr_assert_eq(sc_cache_total_cost(st->s), s.total_cost);
	atomic_store(&st->callbacks, false);
	for (uint32_t id = 0; id < MAX_VALUES; id++)
		if (atomic_load(&st->taken[id]) &&
		    !atomic_load(&st->released[id])) {
			final_count++;
			final_cost += COST(id);
		}
	cr_assert_eq(final_count, s.count, "values held %llu, count %zu",
		     final_count, s.count);
	cr_assert_eq(final_cost, s.total_cost);
	sc_cache_clear(st->s);
	cr_assert_eq(sc_cache_count(st->s), 0);

	/* destroy it with pins out, racing their puts */
	cr_assert_eq(sc_cache_set_limit(st->s, S_LIMIT), 0);
	for (uint32_t i = 0; i < 24; i++) {
		uint32_t id = new_value(st);

		cr_assert_neq(id, UINT32_MAX);
		snprintf(key, sizeof(key), "last%u", i);
		cr_assert_eq(sc_cache_insert(st->s, key, VAL(id), COST(id)), 0);
	}
	pthread_barrier_init(&bar, NULL, 5);
	for (unsigned int i = 0; i < 4; i++) {
		lp[i] = (struct last_pins){ st, &bar, i };
		cr_assert_eq(pthread_create(&tl[i], NULL, last_pinner, &lp[i]),
			     0);
	}
	pthread_barrier_wait(&bar);
	sc_cache_destroy(st->s);
	for (unsigned int i = 0; i < 4; i++)
		pthread_join(tl[i], NULL);
	pthread_barrier_destroy(&bar);

	/* every value taken released exactly once, nothing else */
	for (uint32_t id = 0; id < MAX_VALUES; id++)
		lost += atomic_load(&st->taken[id]) &&
			!atomic_load(&st->released[id]);
	cr_assert_eq(lost, 0, "values never released");
	cr_assert_eq(atomic_load(&st->twice), 0, "values released twice");
	cr_assert_eq(atomic_load(&st->bad_release), 0,
		     "values released that were not taken");
	cr_assert_eq(atomic_load(&st->pinned_release), 0,
		     "values released while pinned");
	cr_assert_eq(atomic_load(&st->wrong_pin), 0);
	cr_assert_eq(atomic_load(&st->wrong_key), 0,
		     "lookups found values stored under another key");
	cr_assert_eq(atomic_load(&st->over_limit), 0, "total_cost > limit");
	cr_assert_eq(atomic_load(&st->stats_mismatch), 0);
	cr_assert_gt(atomic_load(&st->checks), 0);
	cr_assert_gt(atomic_load(&st->private_cycles), 0);
	cr_assert_gt(atomic_load(&st->shrink_passes), 0);
	cr_assert_gt(ps.notifies, 0);
	cr_assert_gt(ps.passes[1] + ps.passes[2] + ps.passes[3], 0);
	/* no slab cache of the test left, no memory */
	cr_assert_not(slabs_of_test_left());
#ifdef CONFIG_SC_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
	ty->rounds++;
	ty->private_cycles += atomic_load(&st->private_cycles);
	ty->shrink_passes += atomic_load(&st->shrink_passes);
	ty->checks += atomic_load(&st->checks);
	ty->values += (unsigned long)atomic_load(&st->next_id);
	ty->notifies += ps.notifies;
	ty->events += ps.events;
	ty->sources = sources;
	for (unsigned int i = 0; i < 4; i++)
		ty->passes += ps.passes[i];
	pthread_mutex_destroy(&st->box_lock);
	free(st->taken);
	free(st->released);
	free(st->pinned);
	free(st->key_of);
	free(st->handle_of);
	free(st);
}

static void stress(bool sieve)
{
	const char *env = getenv("SC_STRESS_SECONDS");
	double seconds = env && *env ? strtod(env, NULL) : 0;
	struct tally ty = { 0 };
	struct timespec t0;
	uint64_t round = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		stress_round(round % 2 ? !sieve : sieve, round, &ty);
	while (++round && since(&t0) < seconds);
	fprintf(stderr,
		"cache_stress_mt %s: %lu rounds of %u workers x %u calls in "
		"%.1f s: %lu values, %lu private caches destroyed with pins "
		"out, %lu shrink passes, %llu pressure notifies and %llu "
		"source events (sources %#x) making %llu passes, %lu "
		"total_cost <= limit checks, %lu lookups' values checked\n",
		sieve ? "SIEVE first" : "LRU first", ty.rounds, NR_WORKERS,
		OPS_PER_WORKER, since(&t0), ty.values, ty.private_cycles,
		ty.shrink_passes, ty.notifies, ty.events, ty.sources, ty.passes,
		ty.checks, ty.hits);
}

Test(cache_stress_mt, lru)
{
	stress(false);
}

Test(cache_stress_mt, sieve)
{
	stress(true);
}
