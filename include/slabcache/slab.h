/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHE_SLAB_H
#define SLABCACHE_SLAB_H

/*
 * Slab object caches: fixed-size objects carved from large aligned blocks
 * ("slabs") obtained from the backend allocator, like the kernel's
 * kmem_cache. Every function here is thread-safe.
 */
#include <stddef.h>
#include <stdio.h>
#include <slabcache/export.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sc_slab;

/* align objects on cache lines */
#define SC_SLAB_HWCACHE_ALIGN 0x1u
/* poison free objects, verify on alloc */
#define SC_SLAB_POISON 0x2u
/* guard bytes after each object, verified on free */
#define SC_SLAB_RED_ZONE 0x4u

/**
 * sc_slab_create() - Create a cache of fixed-size objects.
 * @name: Name shown in reports and sc_slabinfo_write(); copied. NULL or
 *        empty is refused.
 * @size: Object size in bytes, at least 1.
 * @align: Object alignment, a power of two, or 0 for the default (pointer
 *         alignment, or a cache line with %SC_SLAB_HWCACHE_ALIGN).
 * @flags: %SC_SLAB_HWCACHE_ALIGN, %SC_SLAB_POISON, %SC_SLAB_RED_ZONE.
 *
 * Context: Any thread.
 * Return: The new slab cache, or NULL with errno set: %EINVAL for a zero
 * size, an alignment that is not a power of two, a missing name or unknown
 * flags; %E2BIG when an object cannot fit a slab; %ENOMEM.
 */
SC_API struct sc_slab *sc_slab_create(const char *name, size_t size,
				      size_t align, unsigned int flags);

/**
 * sc_slab_alloc() - Allocate one object.
 * @s: Slab cache.
 *
 * The object's content is undefined (with %SC_SLAB_POISON it holds the
 * poison pattern). The call goes through fault injection.
 *
 * Context: Any thread.
 * Return: The object, or NULL with errno %ENOMEM (also when @s is NULL,
 * with %EINVAL).
 */
SC_API void *sc_slab_alloc(struct sc_slab *s);

/**
 * sc_slab_free() - Give an object back to its slab cache.
 * @s: Slab cache that handed @obj out.
 * @obj: Object, or NULL (no-op).
 *
 * With debug flags, a double free, a foreign pointer or a damaged red zone
 * is reported and the process aborts through the corruption handler.
 * Without them, a pointer inside an object or of another cache is
 * reported before the object would be handed out again or put back into a
 * slab (so the report may come at a later call from the same thread, at the
 * latest its next sc_slab_info() or sc_slab_shrink() of the cache, or its
 * exit); it is never used. A free of the object the thread freed last into
 * the cache, still free (a double free), is reported at once; one that
 * another thread has had from the cache since is no double free.
 *
 * Context: Any thread.
 */
SC_API void sc_slab_free(struct sc_slab *s, void *obj);

/**
 * sc_slab_free_bulk() - Give several objects back to their slab cache.
 * @s: Slab cache that handed the objects out.
 * @objs: The objects; NULL entries are skipped.
 * @n: How many.
 *
 * Like sc_slab_free() on each, under one acquisition of the cache's lock,
 * and straight back into their slabs rather than into the calling
 * thread's magazine: for a run of frees that is not followed by as many
 * allocations (dropping many entries at once), so that the next
 * allocations are not served from the objects just freed, scattered over
 * many slabs, and slabs that empty can go back (they are kept for reuse
 * as any slab that empties is: Documentation/slab.rst, "Slab lists"). A
 * pointer that is not
 * an object of @s is reported as sc_slab_free() reports it.
 *
 * Context: Any thread.
 */
SC_API void sc_slab_free_bulk(struct sc_slab *s, void **objs, size_t n);

/**
 * sc_slab_shrink() - Give every empty slab back to the backend.
 * @s: Slab cache, or NULL for every live slab cache.
 *
 * Context: Any thread.
 * Return: Bytes of slab memory given back.
 */
SC_API size_t sc_slab_shrink(struct sc_slab *s);

/**
 * sc_slab_destroy() - Destroy a slab cache and give all its memory back.
 * @s: Slab cache, or NULL (no-op).
 *
 * Objects still allocated are leaked into oblivion: their memory is freed
 * with the slabs. With debug flags, live objects are reported on stderr.
 *
 * Context: Any thread; no other thread may use @s during or after the call.
 */
SC_API void sc_slab_destroy(struct sc_slab *s);

/**
 * struct sc_slab_info - A slab cache's geometry and counters.
 * @name: Name given at creation.
 * @object_size: Object size as created.
 * @slot_size: Bytes per object with alignment and debug padding.
 * @objects_per_slab: Objects carved from one slab.
 * @slab_size: Bytes of one slab.
 * @active_objects: Objects handed out.
 * @total_objects: Objects in all slabs held.
 * @slabs: Slabs held, empty ones included.
 * @empty_slabs: Slabs with no object handed out.
 * @allocs: Successful allocations.
 * @frees: Frees.
 * @alloc_failures: Allocations that failed.
 */
struct sc_slab_info {
	const char *name;
	size_t object_size;
	size_t slot_size;
	size_t objects_per_slab;
	size_t slab_size;
	size_t active_objects;
	size_t total_objects;
	size_t slabs;
	size_t empty_slabs;
	unsigned long long allocs, frees, alloc_failures;
};

/**
 * sc_slab_info() - Read a slab cache's geometry and counters.
 * @s: Slab cache.
 * @info: Filled on success.
 *
 * Context: Any thread.
 * Return: 0, or %-EINVAL if @s or @info is NULL.
 */
SC_API int sc_slab_info(const struct sc_slab *s, struct sc_slab_info *info);

/**
 * sc_slabinfo_write() - Write every live slab cache, /proc/slabinfo-like.
 * @out: Stream to write to.
 *
 * One header line, then one line per slab cache with the columns name,
 * active_objs, num_objs, objsize, objperslab, slabsize, slabs, empty.
 *
 * Context: Any thread.
 * Return: Number of slab caches written, %-EINVAL if @out is NULL, %-EIO
 * if writing failed.
 */
SC_API int sc_slabinfo_write(FILE *out);

/**
 * sc_alloc_backend() - Name the backend allocator in use.
 *
 * Context: Any thread.
 * Return: "jemalloc" or "libc".
 */
SC_API const char *sc_alloc_backend(void);

/**
 * typedef sc_slab_corruption_fn - Handler for detected slab corruption.
 * @slab: Name of the slab cache.
 * @obj: Address of the object concerned.
 * @what: What was wrong, e.g. "double free".
 */
typedef void (*sc_slab_corruption_fn)(const char *slab, const void *obj,
				      const char *what);

/**
 * sc_slab_set_corruption_handler() - Replace the corruption handler.
 * @fn: New handler, or NULL to restore the default (report to stderr,
 *      then abort()).
 *
 * The handler runs with the slab cache's lock held and must not call back
 * into the slab cache. If it returns, the offending operation is abandoned:
 * the object is neither freed nor handed out.
 *
 * Context: Any thread; meant to be set once, early, by test programs.
 * Return: The previous handler.
 */
SC_API sc_slab_corruption_fn
sc_slab_set_corruption_handler(sc_slab_corruption_fn fn);

/**
 * sc_fault_inject() - Make the nth allocation from now fail.
 * @nth: 1 fails the next allocation the library makes, 2 the one after,
 *       and so on; 0 turns fault injection off.
 *
 * Like the kernel's failslab: every allocation the library makes (slab
 * pages, key array and hash table growth, anything else) passes through
 * one counter. One-shot: after the failure, injection is off again.
 *
 * Context: Any thread; the counter is process-wide.
 */
SC_API void sc_fault_inject(unsigned long nth);

/**
 * sc_fault_allocations() - Count the allocations attempted so far.
 *
 * Context: Any thread.
 * Return: Allocations the library has attempted since the process started,
 * failed ones included.
 */
SC_API unsigned long sc_fault_allocations(void);

#ifdef __cplusplus
}
#endif

#endif /* SLABCACHE_SLAB_H */
