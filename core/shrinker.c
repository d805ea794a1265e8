// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Shrinker registry, after the kernel's mm/shrinker.c.
 *
 * A shrinker says how many objects it could free (count_objects) and frees
 * some when asked (scan_objects). sc_shrink_memory() walks every registered
 * shrinker and asks each for an amount that grows with the pressure level
 * and shrinks with the shrinker's seeks, in batch-sized calls, carrying
 * work that was too small to do now over to the next pass (nr_deferred),
 * as do_shrink_slab() does. Documentation/shrinker.rst has the numbers;
 * the sections below are pulled into it.
 */

/**
 * DOC: Threads, callbacks and locking
 *
 * The registry is one mutex and one list. The mutex is the outermost lock
 * of the library and is never held across a callback: a pass takes a
 * reference on a shrinker, drops the mutex, calls ``count_objects`` and
 * ``scan_objects``, then retakes the mutex and drops the reference.
 * Freeing under the mutex only reaches the slab allocator, lower in the
 * lock order. So:
 *
 * * callbacks may call any cache function, register or free shrinkers,
 *   and even start another sc_shrink_memory() pass;
 * * several threads may run passes at the same time; each shrinker's
 *   callbacks must then be thread-safe (a cache's are);
 * * sc_shrinker_free() marks the shrinker dead (no pass starts calling it
 *   again), then waits until no other thread is inside one of its
 *   callbacks (a condition variable); when it returns, no callback of it
 *   runs or will run, so its private data may be freed;
 * * freeing a shrinker from inside **another** shrinker's callback works:
 *   a dead shrinker stays linked until its last reference is gone, so a
 *   pass that holds a reference on it can always continue the walk from
 *   it, and skips it if it was not asked yet;
 * * freeing a shrinker from inside **its own** callback works too: the
 *   free waits for other threads only (the references of its own thread,
 *   possibly nested, cannot be waited for), and the last put, when the
 *   callback returns, unlinks and frees it; the pass does not call it
 *   again;
 * * two threads whose callbacks free each other's shrinker at the same
 *   time wait for each other for ever, as with any two locks taken in
 *   opposite orders.
 *
 * Shrinkers are asked in registration order, oldest first.
 */

/**
 * DOC: fork()
 *
 * The registry is process-global. A child forked while another thread was
 * in sc_shrink_memory() or sc_shrinker_free() inherits the mutex in the
 * locked state; fork from a quiet moment, or exec.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "alloc/lock.h"
#include <slabcache/shrinker.h>

#define SC_SHRINK_BATCH 128

/* do_shrink_slab() priorities: the amount asked is freeable >> priority. */
#define SC_PRIO_LOW 9
#define SC_PRIO_MEDIUM 6

struct sc_shrinker_node {
	struct sc_shrinker_node *next, *prev;
};

struct sc_shrinker_priv {
	struct sc_shrinker pub; /* first: the public part users see */
	struct sc_shrinker_node node; /* on sc_shrinker_list once registered */
	unsigned long refs; /* passes running it; registry lock */
	bool registered; /* registry lock */
	bool free_on_put; /* freed by its last put; registry lock */
	atomic_bool dead; /* being freed: no new calls */
	atomic_ulong nr_deferred; /* work carried to the next pass */
	size_t alloc_size;
	char name[];
};

/*
 * One frame per shrinker callback running on this thread, innermost
 * first, so that sc_shrinker_free() from inside a callback knows which
 * references are its own thread's.
 */
struct sc_shrink_frame {
	struct sc_shrinker_priv *sp;
	struct sc_shrink_frame *outer;
};

static struct sc_mutex sc_shrinker_lock = SC_MUTEX_INITIALIZER;
/* Broadcast whenever a dead shrinker loses a reference. */
static pthread_cond_t sc_shrinker_released = PTHREAD_COND_INITIALIZER;
static struct sc_shrinker_node sc_shrinker_list = { &sc_shrinker_list,
						    &sc_shrinker_list };
static __thread struct sc_shrink_frame *sc_shrink_frames;

static inline struct sc_shrinker_priv *to_priv(struct sc_shrinker *s)
{
	return sc_container_of(s, struct sc_shrinker_priv, pub);
}

static unsigned long sat_add(unsigned long a, unsigned long b)
{
	unsigned long r;

	return __builtin_add_overflow(a, b, &r) ? ~0UL : r;
}

static unsigned long sat_mul(unsigned long a, unsigned long b)
{
	unsigned long r;

	return __builtin_mul_overflow(a, b, &r) ? ~0UL : r;
}

struct sc_shrinker *sc_shrinker_alloc(unsigned int flags, const char *fmt, ...)
{
	struct sc_shrinker_priv *sp;
	va_list ap;
	size_t size;
	int len;

	if (flags || !fmt)
		return sc_err_ptr(-EINVAL);
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return sc_err_ptr(-EINVAL);
	if (!sc_size_add(sizeof(*sp), (size_t)len + 1, &size))
		return sc_err_ptr(-ENOMEM);
	sp = sc_mem_zalloc(size);
	if (!sp)
		return sc_err_ptr(-ENOMEM);
	va_start(ap, fmt);
	vsnprintf(sp->name, (size_t)len + 1, fmt, ap);
	va_end(ap);
	sp->alloc_size = size;
	sp->pub.seeks = SC_DEFAULT_SEEKS;
	atomic_init(&sp->dead, false);
	atomic_init(&sp->nr_deferred, 0);
	return &sp->pub;
}

void sc_shrinker_register(struct sc_shrinker *s)
{
	struct sc_shrinker_priv *sp;

	if (!s || !s->count_objects || !s->scan_objects)
		return;
	sp = to_priv(s);
	sc_mutex_lock(&sc_shrinker_lock);
	if (!sp->registered && !atomic_load(&sp->dead)) {
		/* Append: older shrinkers are asked first, as in the kernel. */
		sp->node.prev = sc_shrinker_list.prev;
		sp->node.next = &sc_shrinker_list;
		sc_shrinker_list.prev->next = &sp->node;
		sc_shrinker_list.prev = &sp->node;
		sp->registered = true;
	}
	sc_mutex_unlock(&sc_shrinker_lock);
}

/* Context: registry lock held. */
static void sc_shrinker_unlink_locked(struct sc_shrinker_priv *sp)
{
	if (!sp->registered)
		return;
	sp->node.prev->next = sp->node.next;
	sp->node.next->prev = sp->node.prev;
	sp->node.next = sp->node.prev = NULL;
	sp->registered = false;
}

/* References held by callbacks of @sp running on this thread. */
static unsigned long sc_shrinker_own_refs(const struct sc_shrinker_priv *sp)
{
	unsigned long n = 0;

	for (struct sc_shrink_frame *f = sc_shrink_frames; f; f = f->outer)
		n += f->sp == sp;
	return n;
}

void sc_shrinker_free(struct sc_shrinker *s)
{
	struct sc_shrinker_priv *sp;
	unsigned long own;

	if (!s)
		return;
	sp = to_priv(s);
	own = sc_shrinker_own_refs(sp);

	sc_mutex_lock(&sc_shrinker_lock);
	atomic_store(&sp->dead, true);
	while (sp->refs > own)
		sc_cond_wait(&sc_shrinker_released, &sc_shrinker_lock);
	if (own) {
		/* Called from its own callback: the last put frees it. */
		sp->free_on_put = true;
		sc_mutex_unlock(&sc_shrinker_lock);
		return;
	}
	sc_shrinker_unlink_locked(sp);
	sc_mutex_unlock(&sc_shrinker_lock);
	sc_mem_free(sp, sp->alloc_size);
}

/*
 * Drop a pass's reference.
 * Context: registry lock held.
 * Return: @sp if the caller must free it after dropping the lock.
 */
static struct sc_shrinker_priv *
sc_shrinker_put_locked(struct sc_shrinker_priv *sp)
{
	sp->refs--;
	if (!atomic_load(&sp->dead))
		return NULL;
	if (sp->free_on_put) {
		if (sp->refs)
			return NULL;
		sc_shrinker_unlink_locked(sp);
		return sp;
	}
	pthread_cond_broadcast(&sc_shrinker_released);
	return NULL;
}

/*
 * The amount to scan now, do_shrink_slab() style. Work that is asked for
 * but too small to do in a batch now is carried in nr_deferred.
 */
static unsigned long sc_do_shrink(struct sc_shrinker_priv *sp,
				  enum sc_pressure_level level)
{
	struct sc_shrinker *s = &sp->pub;
	struct sc_shrink_control sc = { .level = level };
	unsigned long freeable, nr, delta, total_scan, batch, cap;
	unsigned long scanned = 0, freed = 0, next_deferred;
	bool everything;
	int priority;

	/* A free that began after this pass took its reference: no new call. */
	if (atomic_load(&sp->dead))
		return 0;
	freeable = s->count_objects(s, &sc);
	if (freeable == 0 || freeable == SC_SHRINK_EMPTY ||
	    atomic_load(&sp->dead))
		return 0;

	batch = s->batch > 0 ? (unsigned long)s->batch : SC_SHRINK_BATCH;
	cap = sat_mul(freeable, 2);
	nr = atomic_exchange(&sp->nr_deferred, 0);
	everything = level == SC_PRESSURE_CRITICAL || s->seeks == 0;
	if (everything) {
		/* Everything freeable; carried work is included in it. */
		delta = freeable;
		total_scan = freeable;
	} else {
		int seeks = s->seeks > 0 ? s->seeks : SC_DEFAULT_SEEKS;

		priority = level == SC_PRESSURE_LOW ? SC_PRIO_LOW :
						      SC_PRIO_MEDIUM;
		delta = sat_mul(freeable >> priority, 4) / (unsigned long)seeks;
		total_scan = sat_add(nr >> priority, delta);
		if (total_scan > cap)
			total_scan = cap;
	}

	/*
	 * Scan in batches; a remainder smaller than a batch (and than
	 * freeable) waits in nr_deferred, except when everything was asked.
	 */
	while (total_scan &&
	       (total_scan >= batch || total_scan >= freeable || everything)) {
		unsigned long ret;

		sc.nr_to_scan = total_scan < batch ? total_scan : batch;
		sc.nr_scanned = sc.nr_to_scan;
		ret = s->scan_objects(s, &sc);
		if (ret == SC_SHRINK_STOP)
			break;
		freed = sat_add(freed, ret);
		/* No progress reported: stop rather than spin. */
		if (sc.nr_scanned == 0)
			break;
		if (sc.nr_scanned > total_scan)
			sc.nr_scanned = total_scan;
		total_scan -= sc.nr_scanned;
		scanned = sat_add(scanned, sc.nr_scanned);
		/* Freed from its own callback: stop calling it. */
		if (atomic_load(&sp->dead))
			break;
	}

	if (everything)
		next_deferred = freeable > scanned ? freeable - scanned : 0;
	else {
		unsigned long want = sat_add(nr, delta);

		next_deferred = want > scanned ? want - scanned : 0;
	}
	if (next_deferred > cap)
		next_deferred = cap;
	if (next_deferred)
		atomic_fetch_add(&sp->nr_deferred, next_deferred);
	return freed;
}

unsigned long sc_shrink_memory(enum sc_pressure_level level)
{
	struct sc_shrinker_node *node;
	unsigned long freed = 0;

	if (level != SC_PRESSURE_LOW && level != SC_PRESSURE_MEDIUM &&
	    level != SC_PRESSURE_CRITICAL)
		return 0;

	if (level >= SC_PRESSURE_MEDIUM)
		sc_alloc_defer_release();
	sc_mutex_lock(&sc_shrinker_lock);
	node = sc_shrinker_list.next;
	while (node != &sc_shrinker_list) {
		struct sc_shrinker_priv *sp, *to_free;
		struct sc_shrink_frame frame;

		sp = sc_container_of(node, struct sc_shrinker_priv, node);
		if (atomic_load(&sp->dead)) {
			node = node->next;
			continue;
		}
		/* The reference keeps @sp linked while the lock is dropped. */
		sp->refs++;
		sc_mutex_unlock(&sc_shrinker_lock);

		frame.sp = sp;
		frame.outer = sc_shrink_frames;
		sc_shrink_frames = &frame;
		freed = sat_add(freed, sc_do_shrink(sp, level));
		sc_shrink_frames = frame.outer;

		sc_mutex_lock(&sc_shrinker_lock);
		node = node->next;
		to_free = sc_shrinker_put_locked(sp);
		if (to_free)
			sc_mem_free(to_free, to_free->alloc_size);
	}
	sc_mutex_unlock(&sc_shrinker_lock);

	if (level >= SC_PRESSURE_MEDIUM)
		sc_alloc_reclaim_deferred();
	return freed;
}
