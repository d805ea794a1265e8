// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Several threads allocate and free on one slab cache. Each object is
 * stamped with its owner's id and a serial while held and checked before
 * it is freed: an object handed out twice at once gets its stamp
 * overwritten by the other owner. Shrink and slabinfo run concurrently.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mt.h"
#include "alloc/alloc.h"
#ifdef CONFIG_SC_ASAN
#include <sanitizer/lsan_interface.h>
#endif
#include "alloc/block.h"
#include <slabcache/slab.h>

#define MT_THREADS 4
#define MT_ITERS 20000
#define MT_HELD 64
#define MT_OBJ 48

struct stamp {
	uint64_t owner;
	uint64_t serial;
};

struct mt_worker {
	struct sc_slab *s;
	uint64_t id;
	uint64_t errors, failures;
	pthread_t thread;
};

static atomic_int mt_stop;

/* xorshift64: each worker's own stream of slots */
static uint64_t mt_xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *mt_worker_fn(void *arg)
{
	struct mt_worker *w = arg;
	struct stamp *held[MT_HELD] = { NULL };
	uint64_t serials[MT_HELD] = { 0 };
	uint64_t serial = 0, rnd = w->id * 0x9e3779b97f4a7c15ull + 1;

	for (int i = 0; i < MT_ITERS; i++) {
		unsigned int slot;

		slot = (unsigned int)(mt_xorshift(&rnd) % MT_HELD);
		if (held[slot]) {
			if (held[slot]->owner != w->id ||
			    held[slot]->serial != serials[slot])
				w->errors++;
			held[slot]->owner = 0;
			sc_slab_free(w->s, held[slot]);
			held[slot] = NULL;
		} else {
			held[slot] = sc_slab_alloc(w->s);
			if (!held[slot]) {
				w->failures++;
				continue;
			}
			held[slot]->owner = w->id;
			held[slot]->serial = serials[slot] = ++serial;
		}
	}
	for (int i = 0; i < MT_HELD; i++) {
		if (!held[i])
			continue;
		if (held[i]->owner != w->id || held[i]->serial != serials[i])
			w->errors++;
		sc_slab_free(w->s, held[i]);
	}
	return NULL;
}

static void *mt_shrinker_fn(void *arg)
{
	FILE *devnull = fopen("/dev/null", "w");

	(void)arg;
	while (!atomic_load(&mt_stop)) {
		sc_slab_shrink(NULL);
		if (devnull)
			sc_slabinfo_write(devnull);
	}
	if (devnull)
		fclose(devnull);
	return NULL;
}

/* Return: allocation failures seen by the workers. */
static uint64_t mt_run(unsigned int flags, unsigned long inject)
{
	uint64_t failures = 0;
	struct mt_worker w[MT_THREADS];
	struct sc_slab_info info;
	pthread_t shrinker;
	struct sc_slab *s;

	s = sc_slab_create("mt", MT_OBJ, 0, flags);
	cr_assert_not_null(s);
	atomic_store(&mt_stop, 0);
	cr_assert_eq(pthread_create(&shrinker, NULL, mt_shrinker_fn, NULL), 0);
	sc_fault_inject(inject);
	for (int i = 0; i < MT_THREADS; i++) {
		w[i].s = s;
		w[i].id = (uint64_t)i + 1;
		w[i].errors = 0;
		w[i].failures = 0;
		cr_assert_eq(pthread_create(&w[i].thread, NULL, mt_worker_fn,
					    &w[i]),
			     0);
	}
	for (int i = 0; i < MT_THREADS; i++) {
		cr_assert_eq(pthread_join(w[i].thread, NULL), 0);
		cr_assert_eq(w[i].errors, 0);
		failures += w[i].failures;
	}
	atomic_store(&mt_stop, 1);
	cr_assert_eq(pthread_join(shrinker, NULL), 0);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, info.frees);
	cr_assert_gt(info.allocs, 0);
	cr_assert_eq(info.alloc_failures, failures);
	sc_slab_destroy(s);
	return failures;
}

Test(alloc_mt, no_object_handed_out_twice)
{
	cr_assert_eq(mt_run(0, 0), 0);
}

Test(alloc_mt, no_object_handed_out_twice_debug)
{
	cr_assert_eq(mt_run(SC_SLAB_POISON | SC_SLAB_RED_ZONE, 0), 0);
}

/* Fault injection is one-shot across threads: exactly one failure. */
Test(alloc_mt, fault_injection_fails_once)
{
	cr_assert_eq(mt_run(0, 5000), 1);
}

/* ------------------------------------------------ per-thread magazines */

struct handoff {
	struct sc_slab *s;
	void *objs[300];
	int n;
};

static void *handoff_alloc_fn(void *arg)
{
	struct handoff *h = arg;

	for (h->n = 0; h->n < 300; h->n++) {
		h->objs[h->n] = sc_slab_alloc(h->s);
		if (!h->objs[h->n])
			break;
		*(int *)h->objs[h->n] = h->n;
	}
	return NULL;
}

static void *handoff_free_fn(void *arg)
{
	struct handoff *h = arg;

	for (int i = 0; i < h->n; i++) {
		if (*(int *)h->objs[i] != i)
			return (void *)1;
		sc_slab_free(h->s, h->objs[i]);
	}
	return NULL;
}

/* Objects allocated by one thread, freed by another; both exit. */
Test(alloc_mt, free_from_another_thread)
{
	struct handoff h = { .s = sc_slab_create("handoff", 64, 0, 0) };
	struct sc_slab_info info;
	pthread_t t;
	void *ret;

	cr_assert_not_null(h.s);
	cr_assert_eq(pthread_create(&t, NULL, handoff_alloc_fn, &h), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(h.n, 300);
	cr_assert_eq(pthread_create(&t, NULL, handoff_free_fn, &h), 0);
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_null(ret);
	/* both threads' magazines were flushed when they exited */
	cr_assert_eq(sc_slab_info(h.s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, 300);
	cr_assert_eq(info.frees, 300);
	cr_assert_eq(info.slabs, info.empty_slabs);
	sc_slab_destroy(h.s);
}

/*
 * Objects above a magazine's bytes go straight to their slab, and a
 * thread's last such free stands in for the magazine's top in the
 * double-free check. Another thread may have the object from the slab
 * meanwhile; freed again after that, it is no double free.
 */
#define REUSE_OBJ (100u << 10) /* no magazines */
#define REUSE_TRIES 256

struct reuse {
	struct sc_slab *s;
	void *want, *got[REUSE_TRIES];
	int n;
};

static const void *reuse_bad_obj;
static const char *reuse_bad_what;

static void reuse_record(const char *slab, const void *obj, const char *what)
{
	(void)slab;
	reuse_bad_obj = obj;
	reuse_bad_what = what;
}

/* Allocate until the object the other thread freed comes back. */
static void *reuse_take_fn(void *arg)
{
	struct reuse *r = arg;

	for (r->n = 0; r->n < REUSE_TRIES; r->n++) {
		r->got[r->n] = sc_slab_alloc(r->s);
		if (!r->got[r->n] || r->got[r->n] == r->want)
			break;
	}
	return NULL;
}

Test(alloc_mt, freed_again_after_another_thread_had_it)
{
	struct reuse r = { .s = sc_slab_create("reuse", REUSE_OBJ, 0, 0) };
	struct sc_slab_info info;
	void **held;
	size_t per, i;
	pthread_t t;

	cr_assert_not_null(r.s);
	cr_assert_eq(sc_slab_info(r.s, &info), 0);
	per = info.objects_per_slab;
	cr_assert(per + 1 < REUSE_TRIES);
	cr_assert_not_null(held = calloc(per + 1, sizeof(*held)));
	sc_slab_set_corruption_handler(reuse_record);
	/*
	 * Two slabs with free slots, one of them the wanted object's: the
	 * other thread's shard, if another, steals that one (the slab last
	 * freed into) before it grows; if the same, reaches it.
	 */
	for (i = 0; i <= per; i++)
		cr_assert_not_null(held[i] = sc_slab_alloc(r.s));
	r.want = held[0];
	sc_slab_free(r.s, r.want);
	cr_assert_eq(pthread_create(&t, NULL, reuse_take_fn, &r), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert(r.n < REUSE_TRIES && r.got[r.n] == r.want,
		  "the other thread had the object back");
	/* this thread's last free was of it, but it was handed out since */
	sc_slab_free(r.s, r.want);
	cr_assert_null(reuse_bad_what, "%s", reuse_bad_what);
	for (i = 1; i <= per; i++)
		sc_slab_free(r.s, held[i]);
	for (int k = 0; k < r.n; k++)
		sc_slab_free(r.s, r.got[k]);
	cr_assert_null(reuse_bad_what, "%s", reuse_bad_what);
	cr_assert_eq(sc_slab_info(r.s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	/* a free of the object this thread freed last, still free, is one */
	cr_assert_not_null(r.want = sc_slab_alloc(r.s));
	sc_slab_free(r.s, r.want);
	sc_slab_free(r.s, r.want);
	cr_assert_eq(reuse_bad_obj, r.want);
	cr_assert(reuse_bad_what && !strcmp(reuse_bad_what, "double free"));
	sc_slab_set_corruption_handler(NULL);
	cr_assert_eq(sc_slab_info(r.s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	free(held);
	sc_slab_destroy(r.s);
}

#define STALE_OBJS 2000 /* over 8 + 2 magazines of 64 */

struct stale {
	struct sc_slab *old, *fresh;
	pthread_barrier_t destroyed, used;
	void *held, *objs[STALE_OBJS];
	int ok;
};

static void *stale_fn(void *arg)
{
	struct stale *st = arg;
	void *p;

	/* fill this thread's magazines of "old", and its depot */
	st->held = sc_slab_alloc(st->old);
	for (int i = 0; i < STALE_OBJS; i++)
		st->objs[i] = sc_slab_alloc(st->old);
	for (int i = 0; i < STALE_OBJS; i++)
		sc_slab_free(st->old, st->objs[i]);
	pthread_barrier_wait(&st->used);
	pthread_barrier_wait(&st->destroyed);
	/*
	 * "old" is gone and "fresh" has its index: the magazine left there
	 * must be forgotten, not flushed into "fresh" nor handed out.
	 */
	p = sc_slab_alloc(st->fresh);
	st->ok = p != NULL;
	sc_slab_free(st->fresh, p);
	sc_slab_shrink(NULL);
	return NULL;
}

/* Another thread's magazine of a destroyed cache is never touched. */
static void stale_run(bool reuse_index)
{
	static struct stale st;
	struct sc_slab_held held;
	struct sc_slab_info info;
	struct sc_slab *more[4];
	pthread_t t;

	st.old = sc_slab_create("old", 64, 0, 0);
	cr_assert_not_null(st.old);
	cr_assert_eq(pthread_barrier_init(&st.used, NULL, 2), 0);
	cr_assert_eq(pthread_barrier_init(&st.destroyed, NULL, 2), 0);
	cr_assert_eq(pthread_create(&t, NULL, stale_fn, &st), 0);
	pthread_barrier_wait(&st.used);
	sc_slab_get_held(st.old, &held);
	cr_assert_eq(held.depot, held.depot_max, "the depot is full");
	sc_slab_destroy(st.old);
	/* the lowest free index is old's: the first new cache takes it */
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(more[i] = sc_slab_create("more", 64, 0, 0));
	st.fresh = reuse_index ? more[0] : more[3];
	pthread_barrier_wait(&st.destroyed);
	/* without reuse, the thread exits with the stale entry */
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert(st.ok);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(sc_slab_info(more[i], &info), 0);
		cr_assert_eq(info.active_objects, 0);
		cr_assert_eq(info.allocs, more[i] == st.fresh);
		cr_assert_eq(info.frees, more[i] == st.fresh);
		cr_assert_eq(info.slabs, info.empty_slabs);
	}
	for (int i = 0; i < 4; i++)
		sc_slab_destroy(more[i]);
	pthread_barrier_destroy(&st.used);
	pthread_barrier_destroy(&st.destroyed);
#ifdef CONFIG_SC_ASAN
	/* the stale magazine went back with the thread's table */
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
}

Test(alloc_mt, stale_magazine_of_destroyed_cache)
{
	stale_run(true);
}

Test(alloc_mt, stale_magazine_flushed_at_exit)
{
	stale_run(false);
}

/*
 * No two caches share a magazine: a thread that uses many caches in turn
 * keeps a magazine of each. Seen from another thread (whose info calls
 * do not flush them), each cache still has the objects that thread's
 * magazine holds out of its slabs; two caches that shared a magazine
 * would have flushed each other's.
 */
#define OWN_CACHES 40

struct own {
	struct sc_slab *caches[OWN_CACHES];
	void *held[OWN_CACHES];
	pthread_barrier_t filled, checked;
};

static void *own_fn(void *arg)
{
	struct own *o = arg;

	for (int round = 0; round < 3; round++)
		for (int c = 0; c < OWN_CACHES; c++) {
			void *p = sc_slab_alloc(o->caches[c]);

			if (!round)
				o->held[c] = p;
			else
				sc_slab_free(o->caches[c], p);
		}
	pthread_barrier_wait(&o->filled);
	pthread_barrier_wait(&o->checked);
	for (int c = 0; c < OWN_CACHES; c++)
		sc_slab_free(o->caches[c], o->held[c]);
	return NULL;
}

Test(alloc_mt, each_cache_has_its_own_magazine)
{
	struct sc_slab_info info;
	struct own o;
	pthread_t t;

	for (int c = 0; c < OWN_CACHES; c++) {
		/* the sizes of slabcached's entry and item classes among them */
		static const size_t sizes[] = { 56, 64, 600, 752 };

		o.caches[c] = sc_slab_create("own", sizes[c % 4], 0, 0);
		cr_assert_not_null(o.caches[c]);
	}
	cr_assert_eq(pthread_barrier_init(&o.filled, NULL, 2), 0);
	cr_assert_eq(pthread_barrier_init(&o.checked, NULL, 2), 0);
	cr_assert_eq(pthread_create(&t, NULL, own_fn, &o), 0);
	pthread_barrier_wait(&o.filled);
	for (int c = 0; c < OWN_CACHES; c++) {
		cr_assert_eq(sc_slab_info(o.caches[c], &info), 0);
		/* one held, the rest of a refill in the thread's magazine */
		cr_assert_gt(info.active_objects, 1, "cache %d", c);
	}
	pthread_barrier_wait(&o.checked);
	cr_assert_eq(pthread_join(t, NULL), 0);
	for (int c = 0; c < OWN_CACHES; c++) {
		cr_assert_eq(sc_slab_info(o.caches[c], &info), 0);
		cr_assert_eq(info.active_objects, 0);
		cr_assert_eq(info.allocs, 3);
		cr_assert_eq(info.frees, 3);
		sc_slab_destroy(o.caches[c]);
	}
	pthread_barrier_destroy(&o.filled);
	pthread_barrier_destroy(&o.checked);
}

/* ------------------------------------------------ depot and shards */

/*
 * Producer/consumer: objects one thread allocates and another frees come
 * back to the first as whole magazines through the depot: its next
 * allocations take them, and no new slab is needed.
 */
#define PC_MAGS 12

struct pc {
	struct sc_slab *s;
	void **objs;
	size_t n;
	pthread_barrier_t step;
	struct sc_slab_held freer;
	int errors;
};

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static void *pc_free_fn(void *arg)
{
	struct pc *pc = arg;

	pthread_barrier_wait(&pc->step); /* allocated */
	for (size_t i = 0; i < pc->n; i++)
		sc_slab_free(pc->s, pc->objs[i]);
	sc_slab_get_held(pc->s, &pc->freer);
	return NULL; /* its magazines go back to the slabs */
}

Test(alloc_mt, producer_consumer_trades_magazines)
{
	static struct pc pc;
	struct sc_slab_held h;
	struct sc_slab_info info;
	size_t cap, mine, got;
	pthread_t t;
	void **again;

	pc.s = sc_slab_create("pc", 64, 0, 0);
	cr_assert_not_null(pc.s);
	sc_slab_get_held(pc.s, &h);
	cap = h.mine_max / 2;
	pc.n = PC_MAGS * cap;
	pc.objs = calloc(pc.n, sizeof(void *));
	again = calloc(pc.n, sizeof(void *));
	cr_assert(pc.objs && again);
	cr_assert_eq(pthread_barrier_init(&pc.step, NULL, 2), 0);
	cr_assert_eq(pthread_create(&t, NULL, pc_free_fn, &pc), 0);
	for (size_t i = 0; i < pc.n; i++)
		cr_assert_not_null(pc.objs[i] = sc_slab_alloc(pc.s));
	pthread_barrier_wait(&pc.step);
	cr_assert_eq(pthread_join(t, NULL), 0);
	/* the freer kept one magazine, the depot took the rest it could */
	cr_assert_leq(pc.freer.mine, cap);
	cr_assert_eq(pc.freer.depot, pc.freer.depot_max);
	sc_slab_get_held(pc.s, &h);
	cr_assert_eq(h.depot, h.depot_max);
	/* what is left of this thread's last refill goes out first */
	mine = h.mine;
	for (size_t i = 0; i < mine; i++)
		cr_assert_not_null(again[i] = sc_slab_alloc(pc.s));
	/* then its next allocations empty the depot */
	got = mine + h.depot;
	for (size_t i = mine; i < got; i++)
		cr_assert_not_null(again[i] = sc_slab_alloc(pc.s));
	sc_slab_get_held(pc.s, &h);
	cr_assert_eq(h.depot, 0);
	cr_assert_eq(h.mine, 0);
	/* and each of those is one the other thread freed */
	qsort(pc.objs, pc.n, sizeof(void *), cmp_ptr);
	for (size_t i = mine; i < got; i++)
		cr_assert_not_null(bsearch(&again[i], pc.objs, pc.n,
					   sizeof(void *), cmp_ptr));
	for (size_t i = 0; i < got; i++)
		sc_slab_free(pc.s, again[i]);
	cr_assert_eq(sc_slab_info(pc.s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, pc.n + got);
	cr_assert_eq(info.frees, pc.n + got);
	cr_assert_eq(info.slabs, info.empty_slabs);
	pthread_barrier_destroy(&pc.step);
	free(again);
	free(pc.objs);
	sc_slab_destroy(pc.s);
}

/*
 * Threads take new objects from their own shards: with two shards or
 * more, two threads' objects share no slab. Then a thread whose shard
 * has run dry takes the slabs another shard holds free objects in before
 * it takes a new slab.
 */
#define SH_OBJS 3000

struct sh_worker {
	struct sc_slab *s;
	void *objs[SH_OBJS];
	unsigned int home;
	pthread_barrier_t *go, *done;
};

static void *sh_fn(void *arg)
{
	struct sh_worker *w = arg;
	struct sc_slab_held h;

	sc_slab_get_held(w->s, &h);
	w->home = h.home;
	pthread_barrier_wait(w->go);
	for (int i = 0; i < SH_OBJS; i++)
		w->objs[i] = sc_slab_alloc(w->s);
	pthread_barrier_wait(w->done);
	return NULL;
}

/*
 * Two threads, each allocating SH_OBJS objects of @s into w[i].objs at
 * the same time (their magazines from their own shards), joined.
 */
static void sh_run_pair(struct sc_slab *s, struct sh_worker w[2])
{
	pthread_barrier_t go, done;
	pthread_t t[2];

	cr_assert_eq(pthread_barrier_init(&go, NULL, 2), 0);
	cr_assert_eq(pthread_barrier_init(&done, NULL, 3), 0);
	for (int i = 0; i < 2; i++) {
		w[i].s = s;
		w[i].go = &go;
		w[i].done = &done;
		cr_assert_eq(pthread_create(&t[i], NULL, sh_fn, &w[i]), 0);
	}
	pthread_barrier_wait(&done);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);
}

static uintptr_t slab_base(const void *p, size_t slab_size)
{
	return (uintptr_t)p & ~(uintptr_t)(slab_size - 1);
}

Test(alloc_mt, threads_allocate_from_their_own_shards)
{
	static struct sh_worker w[2];
	struct sc_slab_held h;
	struct sc_slab_info info;
	struct sc_slab *s = sc_slab_create("shards", 64, 0, 0);

	cr_assert_not_null(s);
	sc_slab_get_held(s, &h);
	cr_assert_geq(h.shards, 1);
	sh_run_pair(s, w);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	if (h.shards >= 2 && w[0].home != w[1].home) {
		for (int i = 0; i < SH_OBJS; i++)
			for (int j = 0; j < SH_OBJS; j += 97)
				cr_assert_neq(slab_base(w[0].objs[i],
							info.slab_size),
					      slab_base(w[1].objs[j],
							info.slab_size));
	}
	for (int i = 0; i < 2; i++)
		sc_slab_free_bulk(s, w[i].objs, SH_OBJS);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, 2 * SH_OBJS);
	cr_assert_eq(info.frees, 2 * SH_OBJS);
	sc_slab_destroy(s);
}

/*
 * Every object of the pair's 2 * SH_OBJS came back: none active, and
 * each slab empty, so a shrink releases them all. Destroys @s.
 */
static void sh_assert_all_back_and_destroy(struct sc_slab *s)
{
	struct sc_slab_info info;

	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, 2 * SH_OBJS);
	cr_assert_eq(info.frees, 2 * SH_OBJS);
	sc_slab_shrink(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 0, "%zu slabs", info.slabs);
	sc_slab_destroy(s);
}

/*
 * One bulk free of objects from two shards' slabs, interleaved (with a
 * NULL among them): each goes back to its own slab, under its shard's
 * lock, and every slab comes back empty.
 */
Test(alloc_mt, a_bulk_free_across_shards_returns_each_to_its_slab)
{
	static struct sh_worker w[2];
	static void *mixed[2 * SH_OBJS + 1];
	struct sc_slab_held h;
	struct sc_slab *s = sc_slab_create("mixed", 64, 0, 0);
	size_t n = 0;

	cr_assert_not_null(s);
	sc_slab_get_held(s, &h);
	sh_run_pair(s, w);
	if (h.shards >= 2)
		cr_assert_neq(w[0].home, w[1].home);
	/* runs of 1, 2, 3, ... objects of each shard in turn */
	for (size_t i = 0, j = 0, k = 0, run = 1; i < SH_OBJS || j < SH_OBJS;
	     run++) {
		for (k = 0; k < run && i < SH_OBJS; k++)
			mixed[n++] = w[0].objs[i++];
		for (k = 0; k < run && j < SH_OBJS; k++)
			mixed[n++] = w[1].objs[j++];
		if (run == 5)
			mixed[n++] = NULL;
	}
	cr_assert_eq(n, 2 * SH_OBJS + 1);
	sc_slab_free_bulk(s, mixed, n);
	sh_assert_all_back_and_destroy(s);
}

/*
 * A magazine that holds objects of two shards' slabs, interleaved, goes
 * back into the slabs (the flush of sc_slab_info()): each object to its
 * own slab, under its shard's lock, and every slab comes back empty.
 */
Test(alloc_mt, a_magazine_across_shards_returns_each_to_its_slab)
{
	static struct sh_worker w[2];
	struct sc_slab_info info;
	struct sc_slab_held h;
	struct sc_slab *s = sc_slab_create("mixed-mag", 64, 0, 0);
	size_t i = 0, j = 0, k, run, n = 0;

	cr_assert_not_null(s);
	sc_slab_get_held(s, &h);
	sh_run_pair(s, w);
	if (h.shards >= 2)
		cr_assert_neq(w[0].home, w[1].home);
	/* fewer than a magazine holds: 50 of each, in runs of 1, 2, 3, ... */
	for (run = 1; i < 50 || j < 50; run++) {
		for (k = 0; k < run && i < 50; k++, n++)
			sc_slab_free(s, w[0].objs[i++]);
		for (k = 0; k < run && j < 50; k++, n++)
			sc_slab_free(s, w[1].objs[j++]);
	}
	cr_assert_eq(n, 100);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 2 * SH_OBJS - 100);
	cr_assert_eq(info.frees, 100);
	for (k = 0; k < 2; k++)
		sc_slab_free_bulk(s, w[k].objs + 50, SH_OBJS - 50);
	sh_assert_all_back_and_destroy(s);
}

struct steal {
	struct sc_slab *s;
	void **objs;
	size_t n, per;
	unsigned int home;
};

/* Fill 4 slabs, then free all but the first object of each. */
static void *steal_fill_fn(void *arg)
{
	struct steal *st = arg;
	struct sc_slab_held h;

	sc_slab_get_held(st->s, &h);
	st->home = h.home;
	for (size_t i = 0; i < st->n; i++)
		st->objs[i] = sc_slab_alloc(st->s);
	for (size_t i = 0; i < st->n; i++)
		if (i % st->per)
			sc_slab_free(st->s, st->objs[i]);
	return NULL; /* its magazines go back to its shard's slabs */
}

static void *steal_take_fn(void *arg)
{
	struct steal *st = arg;
	struct sc_slab_held h;

	sc_slab_get_held(st->s, &h);
	st->home = h.home;
	/* three slabs' worth of free objects wait in the other shard */
	for (size_t i = 0; i < 3 * (st->per - 1); i++)
		st->objs[i] = sc_slab_alloc(st->s);
	return NULL;
}

Test(alloc_mt, a_dry_shard_steals_free_objects_before_growing)
{
	static struct steal fill, take;
	struct sc_slab_info info;
	struct sc_slab_held h;
	pthread_t t;

	fill.s = take.s = sc_slab_create("steal", 256, 0, 0);
	cr_assert_not_null(fill.s);
	cr_assert_eq(sc_slab_info(fill.s, &info), 0);
	sc_slab_get_held(fill.s, &h);
	fill.per = take.per = info.objects_per_slab;
	fill.n = 4 * fill.per;
	fill.objs = calloc(fill.n, sizeof(void *));
	take.objs = calloc(fill.n, sizeof(void *));
	cr_assert(fill.objs && take.objs);
	cr_assert_eq(pthread_create(&t, NULL, steal_fill_fn, &fill), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(pthread_create(&t, NULL, steal_take_fn, &take), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(sc_slab_info(fill.s, &info), 0);
	cr_assert_eq(info.active_objects, 4 + 3 * (fill.per - 1));
	if (h.shards >= 2 && fill.home != take.home)
		cr_assert_eq(info.slabs, 4, "%zu slabs", info.slabs);
	for (size_t i = 0; i < fill.n; i += fill.per)
		sc_slab_free(fill.s, fill.objs[i]);
	sc_slab_free_bulk(fill.s, take.objs, 3 * (fill.per - 1));
	cr_assert_eq(sc_slab_info(fill.s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, info.frees);
	free(fill.objs);
	free(take.objs);
	sc_slab_destroy(fill.s);
}

/*
 * Stress: producers hand stamped objects to consumers through a queue,
 * while another thread keeps reading info, shrinking and reclaiming. No
 * object is handed out twice (its stamp would change under its holder),
 * and the counters add up at the end.
 */
#define PQ_PAIRS 2
#define PQ_ITEMS 40000
#define PQ_RING 512

struct pq {
	struct sc_slab *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct stamp *ring[PQ_RING];
	unsigned int head, tail, producers;
	atomic_int errors;
};

static void *pq_producer_fn(void *arg)
{
	struct pq *q = arg;

	for (uint64_t i = 0; i < PQ_ITEMS; i++) {
		struct stamp *o = sc_slab_alloc(q->s);

		if (!o) {
			atomic_fetch_add(&q->errors, 1);
			continue;
		}
		o->owner = (uint64_t)(uintptr_t)o;
		o->serial = i;
		pthread_mutex_lock(&q->lock);
		while (q->head - q->tail == PQ_RING)
			pthread_cond_wait(&q->cond, &q->lock);
		q->ring[q->head++ % PQ_RING] = o;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_lock(&q->lock);
	q->producers--;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void *pq_consumer_fn(void *arg)
{
	struct pq *q = arg;
	struct stamp *batch[32];
	unsigned int n;

	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (q->head == q->tail && q->producers)
			pthread_cond_wait(&q->cond, &q->lock);
		for (n = 0; n < 32 && q->tail != q->head; n++)
			batch[n] = q->ring[q->tail++ % PQ_RING];
		if (!n && !q->producers) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
		for (unsigned int i = 0; i < n; i++) {
			if (batch[i]->owner != (uint64_t)(uintptr_t)batch[i])
				atomic_fetch_add(&q->errors, 1);
			batch[i]->owner = 0;
			/* some straight to the slabs */
			if (batch[i]->serial & 32)
				sc_slab_free_bulk(q->s, (void **)&batch[i], 1);
			else
				sc_slab_free(q->s, batch[i]);
		}
	}
}

static void *pq_reclaim_fn(void *arg)
{
	struct pq *q = arg;
	struct sc_slab_info info;

	while (!atomic_load(&mt_stop)) {
		sc_slab_info(q->s, &info);
		sc_slab_shrink(q->s);
		sc_alloc_reclaim();
	}
	return NULL;
}

Test(alloc_mt, producers_and_consumers_with_reclaim)
{
	static struct pq q;
	pthread_t prod[PQ_PAIRS], cons[PQ_PAIRS], rec;
	struct sc_slab_info info;

	q.s = sc_slab_create("pq", sizeof(struct stamp), 0, 0);
	cr_assert_not_null(q.s);
	cr_assert_eq(pthread_mutex_init(&q.lock, NULL), 0);
	cr_assert_eq(pthread_cond_init(&q.cond, NULL), 0);
	q.producers = PQ_PAIRS;
	atomic_store(&mt_stop, 0);
	cr_assert_eq(pthread_create(&rec, NULL, pq_reclaim_fn, &q), 0);
	for (int i = 0; i < PQ_PAIRS; i++) {
		cr_assert_eq(pthread_create(&prod[i], NULL, pq_producer_fn, &q),
			     0);
		cr_assert_eq(pthread_create(&cons[i], NULL, pq_consumer_fn, &q),
			     0);
	}
	for (int i = 0; i < PQ_PAIRS; i++) {
		cr_assert_eq(pthread_join(prod[i], NULL), 0);
		cr_assert_eq(pthread_join(cons[i], NULL), 0);
	}
	atomic_store(&mt_stop, 1);
	cr_assert_eq(pthread_join(rec, NULL), 0);
	cr_assert_eq(atomic_load(&q.errors), 0);
	cr_assert_eq(sc_slab_info(q.s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, (unsigned long long)PQ_PAIRS * PQ_ITEMS);
	cr_assert_eq(info.frees, info.allocs);
	cr_assert_eq(info.slabs, info.empty_slabs);
	sc_slab_destroy(q.s);
	pthread_mutex_destroy(&q.lock);
	pthread_cond_destroy(&q.cond);
}

/*
 * Threads giving slabs back at once never wait for each other's flush,
 * and none is lost: when they are done, less than a block's worth of
 * freed slabs is left resident.
 */
#define FL_THREADS 3
#define FL_SLABS 40

static void *flush_fn(void *arg)
{
	struct sc_slab *s = arg;
	struct sc_slab_info info;
	void **objs;
	size_t n;

	sc_slab_info(s, &info);
	n = FL_SLABS * info.objects_per_slab;
	objs = calloc(n, sizeof(void *));
	if (!objs)
		return (void *)1;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < n; i++)
			if (!(objs[i] = sc_slab_alloc(s)))
				return (void *)1;
		for (size_t i = 0; i < n; i++)
			sc_slab_free(s, objs[i]);
	}
	free(objs);
	return NULL;
}

Test(alloc_mt, concurrent_flushes_lose_no_request)
{
	/* slabs go to their blocks as they empty: the flushes are the test */
	unsigned int decay = sc_alloc_set_decay_ms(0);
	struct sc_slab *s[FL_THREADS];
	struct sc_block_stats st;
	pthread_t t[FL_THREADS];
	void *ret;

	for (int i = 0; i < FL_THREADS; i++) {
		s[i] = sc_slab_create("flush", 4096, 0, 0);
		cr_assert_not_null(s[i]);
		cr_assert_eq(pthread_create(&t[i], NULL, flush_fn, s[i]), 0);
	}
	for (int i = 0; i < FL_THREADS; i++) {
		cr_assert_eq(pthread_join(t[i], &ret), 0);
		cr_assert_null(ret);
	}
	sc_block_get_stats(&st);
	cr_assert_lt(st.dirty_bytes, SC_BLOCK_SIZE);
	cr_assert_gt(st.purges + st.blocks_freed, 0);
	for (int i = 0; i < FL_THREADS; i++)
		sc_slab_destroy(s[i]);
	sc_alloc_set_decay_ms(decay);
}

/* ------------------------------------------------ fault counter */

struct counting {
	pthread_barrier_t counted, checked;
};

static void *counting_fn(void *arg)
{
	struct counting *c = arg;

	for (int i = 0; i < 10; i++)
		sc_mem_free(sc_mem_alloc(16), 16);
	pthread_barrier_wait(&c->counted);
	pthread_barrier_wait(&c->checked);
	for (int i = 0; i < 5; i++)
		sc_mem_free(sc_mem_alloc(16), 16);
	return NULL;
}

/* Attempts of other threads count, while they live and after they exit. */
Test(alloc_mt, fault_counter_sums_threads)
{
	unsigned long before = sc_fault_allocations();
	struct counting c;
	pthread_t t;

	cr_assert_eq(pthread_barrier_init(&c.counted, NULL, 2), 0);
	cr_assert_eq(pthread_barrier_init(&c.checked, NULL, 2), 0);
	cr_assert_eq(pthread_create(&t, NULL, counting_fn, &c), 0);
	pthread_barrier_wait(&c.counted);
	cr_assert_eq(sc_fault_allocations(), before + 10);
	pthread_barrier_wait(&c.checked);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(sc_fault_allocations(), before + 15);
	pthread_barrier_destroy(&c.counted);
	pthread_barrier_destroy(&c.checked);
}

/* ------------------------------------------------ shared slab blocks */

#define BLK_THREADS 3
#define BLK_ITERS 100000
#define BLK_HELD 400 /* about 27 slabs of 15 objects per thread */
#define BLK_OBJ 4096

struct blk_worker {
	struct sc_slab *s; /* its own cache; the blocks are shared */
	uint64_t id, errors;
	pthread_t thread;
};

/* Both ends of a held object carry its stamp: a purge would zero them. */
static bool blk_stamp_ok(const uint64_t *obj, uint64_t stamp)
{
	return obj[0] == stamp && obj[BLK_OBJ / 8 - 1] == stamp;
}

static void *blk_worker_fn(void *arg)
{
	struct blk_worker *w = arg;
	uint64_t *held[BLK_HELD] = { NULL }, stamps[BLK_HELD] = { 0 };
	uint64_t serial = 0, rnd = w->id * 0x9e3779b97f4a7c15ull + 7;

	for (int i = 0; i < BLK_ITERS; i++) {
		unsigned int slot;

		/* runs of frees, then of allocations: slabs empty and refill */
		slot = (unsigned int)((mt_xorshift(&rnd) >> 8) % BLK_HELD);
		if ((i / 2000) % 2 ? held[slot] != NULL : held[slot] == NULL)
			continue;
		if (held[slot]) {
			if (!blk_stamp_ok(held[slot], stamps[slot]))
				w->errors++;
			sc_slab_free(w->s, held[slot]);
			held[slot] = NULL;
		} else {
			held[slot] = sc_slab_alloc(w->s);
			if (!held[slot]) {
				w->errors++;
				continue;
			}
			stamps[slot] = w->id << 48 | ++serial;
			held[slot][0] = stamps[slot];
			held[slot][BLK_OBJ / 8 - 1] = stamps[slot];
		}
	}
	for (int i = 0; i < BLK_HELD; i++) {
		if (!held[i])
			continue;
		if (!blk_stamp_ok(held[i], stamps[i]))
			w->errors++;
		sc_slab_free(w->s, held[i]);
	}
	return NULL;
}

static void *blk_reclaim_fn(void *arg)
{
	(void)arg;
	while (!atomic_load(&mt_stop)) {
		sc_alloc_defer_release();
		sc_slab_shrink(NULL);
		sc_alloc_reclaim_deferred();
	}
	return NULL;
}

/*
 * Caches of one slab size share blocks while slabs empty, refill and go
 * back concurrently with reclaims that purge free slabs unlocked: a slab
 * being purged is never handed out, and a slab in use is never purged.
 */
Test(alloc_mt, shared_blocks_never_purge_a_slab_in_use)
{
	struct blk_worker w[BLK_THREADS];
	struct sc_block_stats st;
	pthread_t reclaimer;

	atomic_store(&mt_stop, 0);
	cr_assert_eq(pthread_create(&reclaimer, NULL, blk_reclaim_fn, NULL), 0);
	for (int i = 0; i < BLK_THREADS; i++) {
		w[i].s = sc_slab_create("blk-mt", BLK_OBJ, 0, 0);
		cr_assert_not_null(w[i].s);
		w[i].id = (uint64_t)i + 1;
		w[i].errors = 0;
		cr_assert_eq(pthread_create(&w[i].thread, NULL, blk_worker_fn,
					    &w[i]),
			     0);
	}
	for (int i = 0; i < BLK_THREADS; i++) {
		cr_assert_eq(pthread_join(w[i].thread, NULL), 0);
		cr_assert_eq(w[i].errors, 0);
	}
	atomic_store(&mt_stop, 1);
	cr_assert_eq(pthread_join(reclaimer, NULL), 0);
	for (int i = 0; i < BLK_THREADS; i++)
		sc_slab_destroy(w[i].s);
	sc_block_get_stats(&st);
	cr_assert_eq(st.slabs, 0);
	cr_assert_eq(st.blocks, 0);
	cr_assert_gt(st.blocks_allocated, 0);
}
