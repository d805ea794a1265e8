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

struct stale {
	struct sc_slab *old, *fresh;
	pthread_barrier_t destroyed, used;
	void *held;
	int ok;
};

static void *stale_fn(void *arg)
{
	struct stale *st = arg;
	void *p;

	/* fill this thread's magazine of "old" */
	st->held = sc_slab_alloc(st->old);
	sc_slab_free(st->old, sc_slab_alloc(st->old));
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
	struct stale st = { 0 };
	struct sc_slab_info info;
	struct sc_slab *more[4];
	pthread_t t;

	st.old = sc_slab_create("old", 64, 0, 0);
	cr_assert_not_null(st.old);
	cr_assert_eq(pthread_barrier_init(&st.used, NULL, 2), 0);
	cr_assert_eq(pthread_barrier_init(&st.destroyed, NULL, 2), 0);
	cr_assert_eq(pthread_create(&t, NULL, stale_fn, &st), 0);
	pthread_barrier_wait(&st.used);
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
