/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_ALLOC_ALLOC_H
#define SC_ALLOC_ALLOC_H

/*
 * Private interface of alloc/ for the rest of the library. core/ reaches
 * memory only through these functions, so fault injection and accounting
 * see every allocation the library makes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include <slabcache/slab.h>

#define SC_HIDDEN __attribute__((visibility("hidden")))

#define sc_likely(x) __builtin_expect(!!(x), 1)
#define sc_unlikely(x) __builtin_expect(!!(x), 0)

#define sc_container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

/**
 * DOC: Errors inside the library
 *
 * One idiom, as libbpf's ``libbpf_internal.h`` has it. Inside, a function
 * that can fail returns a negative errno (``-ENOMEM``), or a pointer whose
 * NULL its comment gives one meaning, and leaves ``errno`` alone. A public
 * function sets ``errno`` once, at its exit, through one of two helpers
 * (``alloc/alloc.h``), so that its result and ``errno`` never disagree::
 *
 *	return sc_err(ret);          // int: -errno, or ret >= 0 unchanged
 *	return sc_err_ptr(-ENOMEM);  // pointer: NULL
 *
 * A public function with another return type (sc_cache_add() and its
 * handle key) calls sc_err() for ``errno``, then returns its own failure
 * value. The helpers leave ``errno`` alone for a result >= 0. Both take
 * the negative code: ``sc_err(EINVAL)``, a positive constant, does not
 * compile. ``selftests/cache/errno.c`` walks every failure path of the
 * public functions of ``core/`` with a stale ``errno`` before each call
 * and checks that the result and ``errno`` carry the documented code;
 * the fault-injection sweeps do the same for ``-ENOMEM``. Two places set
 * ``errno`` for another reason: strtoull() needs it cleared before the
 * call, and sc_pressure_notify(), async-signal-safe, restores the
 * caller's. In ``alloc/`` the same holds: sc_mem_alloc() and its kin
 * and the block layer return NULL for "out of memory" only, the growth
 * helpers return -ENOMEM or -EOVERFLOW, and none of them touches
 * ``errno`` (``selftests/alloc/fault.c`` checks it stays 0 under fault
 * injection); sc_slab_create() and sc_slab_alloc() set it at their exits.
 */
#define SC_ERR_CHECK(code, max)                                           \
	((void)sizeof(struct {                                            \
		_Static_assert(                                           \
			__builtin_choose_expr(__builtin_constant_p(code), \
					      (code), -1) <= (max),       \
			"sc_err takes a negative errno: -EINVAL");        \
		int sc_err_check;                                         \
	}))

static inline int __sc_err(int ret)
{
	if (ret < 0)
		errno = -ret;
	return ret;
}

static inline void *__sc_err_ptr(int err)
{
	errno = -err;
	return NULL;
}

/**
 * sc_err() - Set errno at a public exit, and return the public result.
 * @ret: A negative errno, or a result (0 or a count) passed through.
 *
 * Return: @ret; errno is -@ret when @ret is negative.
 */
#define sc_err(ret) (SC_ERR_CHECK(ret, 0), __sc_err(ret))

/**
 * sc_err_ptr() - Set errno at a public exit of a pointer function.
 * @err: A negative errno.
 *
 * Return: NULL; errno is -@err.
 */
#define sc_err_ptr(err) (SC_ERR_CHECK(err, -1), __sc_err_ptr(err))

/* CLOCK_MONOTONIC in nanoseconds: the clock of every deadline and stamp. */
static inline uint64_t sc_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Overflow-checked size arithmetic: false (and *res untouched) on overflow. */
static inline bool sc_size_add(size_t a, size_t b, size_t *res)
{
	size_t r;

	if (__builtin_add_overflow(a, b, &r))
		return false;
	*res = r;
	return true;
}

static inline bool sc_size_mul(size_t a, size_t b, size_t *res)
{
	size_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return false;
	*res = r;
	return true;
}

/*
 * sc_fault_should_fail() - Count one allocation attempt.
 * Return: true if fault injection says this one must fail.
 */
SC_HIDDEN bool sc_fault_should_fail(void);

/*
 * General-purpose memory for the library's own structures (cache headers,
 * hash tables, key arrays). Each call counts as one allocation for fault
 * injection. NULL means out of memory; errno is left alone (the public
 * function that gives up sets it, through sc_err_ptr()).
 */
SC_HIDDEN void *sc_mem_alloc(size_t size);
SC_HIDDEN void *sc_mem_zalloc(size_t size);
SC_HIDDEN void sc_mem_free(void *p, size_t size);

/*
 * sc_mem_zalloc_backed() - sc_mem_zalloc() for a block the caller is about
 * to write all over at once (a hash table being filled by a rehash): a
 * block that is its own mapping gets its pages in one call (as with
 * MAP_POPULATE) instead of one fault per first touch, which in scattered
 * order is a read fault that maps the shared zero page, then a write
 * fault that replaces it and must flush the TLBs of every CPU the process
 * runs on. One attempt.
 */
SC_HIDDEN void *sc_mem_zalloc_backed(size_t size);

/*
 * sc_mem_zalloc_aligned() - sc_mem_zalloc() aligned to @align (a power of
 * two, at least sizeof(void *)): for structures whose parts are written
 * by different threads and must not share a cache line. One attempt.
 */
SC_HIDDEN void *sc_mem_zalloc_aligned(size_t size, size_t align);

/*
 * Auxiliary memory: what the slab layer keeps only to go faster (the
 * per-thread tables of magazines, the magazines, the table of caches by
 * index). It is not counted by fault injection and its failure never
 * fails the caller's operation: without a magazine the operation goes
 * to the slabs under the lock. A caller's attempts so stay the same
 * whatever a thread's history (which magazines it already has), and
 * fault sweeps stay exact. sc_mem_aux_fail() makes every auxiliary
 * allocation fail, for the tests of that fallback.
 */
SC_HIDDEN void *sc_mem_aux_zalloc(size_t size);
/* Grow @p from @old to @size bytes, the new bytes zeroed; NULL: failed. */
SC_HIDDEN void *sc_mem_aux_grow(void *p, size_t old, size_t size);
SC_HIDDEN void sc_mem_aux_free(void *p);
SC_HIDDEN void sc_mem_aux_fail(bool on);

/*
 * sc_mem_grow() - The one growth helper: hard cap, overflow-checked
 * multiply, reallocation into a temporary, publish only on success.
 * @ptr: In: the array (may be NULL when *@cap is 0). Out: the new array.
 * @cap: In: current capacity in elements. Out: new capacity.
 * @need: Elements needed; the capacity doubles until it holds them.
 * @elem_size: Bytes per element.
 * @max_elems: Hard cap on the capacity.
 *
 * New elements are zeroed. On failure *@ptr and *@cap are untouched.
 * Return: 0, -ENOMEM, or -EOVERFLOW when @need exceeds @max_elems or the
 * byte size overflows.
 */
SC_HIDDEN int sc_mem_grow(void **ptr, size_t *cap, size_t need,
			  size_t elem_size, size_t max_elems);

/*
 * sc_mem_grow_new() - The same growth, for an array that lock-free
 * readers may still be reading: the new capacity is allocated as a new
 * zeroed block of @hdr bytes followed by the elements, and the old array
 * is left alone, for the caller to copy, publish the new block, and retire
 * the old one after a grace period.
 * @cap: In: current capacity in elements. Out: the new one, on success.
 * @need, @elem_size, @max_elems: As for sc_mem_grow().
 * @hdr: Bytes in front of the elements.
 *
 * @block: Out: the new block, on success.
 *
 * Return: 0, -ENOMEM, or -EOVERFLOW as sc_mem_grow() (then *@block and
 * *@cap are untouched).
 */
SC_HIDDEN int sc_mem_grow_new(void **block, size_t *cap, size_t need,
			      size_t elem_size, size_t max_elems, size_t hdr);

/*
 * sc_slab_slot_size() - Bytes one object of @s takes in its slab (object,
 * red zone, alignment): fixed at create time, read without a lock and
 * without flushing the caller's magazine, unlike sc_slab_info().
 */
SC_HIDDEN size_t sc_slab_slot_size(const struct sc_slab *s);

/**
 * struct sc_slab_held - Free objects of a slab cache held out of its
 * slabs, and the bounds on them (Documentation/slab.rst), for tests.
 * @depot: Objects in the cache's depot.
 * @depot_max: The most the depot may hold.
 * @mine: Objects in the calling thread's magazines of the cache.
 * @mine_max: The most they may hold.
 * @shards: Shards of the cache.
 * @home: The calling thread's home shard in it.
 */
struct sc_slab_held {
	size_t depot, depot_max, mine, mine_max;
	unsigned int shards, home;
};

SC_HIDDEN void sc_slab_get_held(struct sc_slab *s, struct sc_slab_held *held);

/*
 * sc_alloc_reclaim() - Give memory back to the system: every empty slab
 * of every slab cache, then the backend's purge (jemalloc arena purge or
 * malloc_trim). Called by the shrinker registry after MEDIUM and CRITICAL
 * passes.
 * Return: Bytes of slab memory given back.
 */
SC_HIDDEN size_t sc_alloc_reclaim(void);

/*
 * sc_alloc_set_decay_ms() - How long a slab that empties, beyond the two
 * newest empty ones kept per shard of its cache, stays kept for reuse
 * before it goes back: @ms milliseconds (0: at once). Like jemalloc's
 * dirty_decay_ms, ages are looked at when a slab of the same shard
 * empties and when the shard refills a magazine; a reclaim
 * (sc_alloc_reclaim(), MEDIUM and CRITICAL pressure), sc_slab_shrink()
 * and sc_slab_destroy() give them all back whatever their age. Default
 * 1000 ms. For the whole process; meant for tests and tuning.
 * Return: the previous value.
 */
SC_HIDDEN unsigned int sc_alloc_set_decay_ms(unsigned int ms);

/*
 * sc_alloc_defer_release() - Until the matching sc_alloc_reclaim_deferred(),
 * keep slabs that become empty instead of giving each back at once; the
 * reclaim then gives them all back in one run. For passes that are about
 * to free much at once (MEDIUM and CRITICAL shrinks). Nests.
 */
SC_HIDDEN void sc_alloc_defer_release(void);

/*
 * sc_alloc_reclaim_deferred() - End a sc_alloc_defer_release() window,
 * then sc_alloc_reclaim().
 * Return: Bytes of slab memory given back.
 */
SC_HIDDEN size_t sc_alloc_reclaim_deferred(void);

#endif /* SC_ALLOC_ALLOC_H */
