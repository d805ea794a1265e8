/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slabcache/slab.h as released in 0.1 (LIBSLABCACHE_0.1), comments left out:
 * what programs built against 0.1 saw. Frozen: never edit it
 * (Documentation/abi.rst).
 */
#ifndef SLABCACHE_SLAB_H
#define SLABCACHE_SLAB_H
#include <stddef.h>
#include <stdio.h>
#include <slabcache/export.h>
#ifdef __cplusplus
extern "C" {
#endif
struct sc_slab;
#define SC_SLAB_HWCACHE_ALIGN 0x1u
#define SC_SLAB_POISON 0x2u
#define SC_SLAB_RED_ZONE 0x4u
SC_API struct sc_slab *sc_slab_create(const char *name, size_t size,
				      size_t align, unsigned int flags);
SC_API void *sc_slab_alloc(struct sc_slab *s);
SC_API void sc_slab_free(struct sc_slab *s, void *obj);
SC_API void sc_slab_free_bulk(struct sc_slab *s, void **objs, size_t n);
SC_API size_t sc_slab_shrink(struct sc_slab *s);
SC_API void sc_slab_destroy(struct sc_slab *s);
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
SC_API int sc_slab_info(const struct sc_slab *s, struct sc_slab_info *info);
SC_API int sc_slabinfo_write(FILE *out);
SC_API const char *sc_alloc_backend(void);
typedef void (*sc_slab_corruption_fn)(const char *slab, const void *obj,
				      const char *what);
SC_API sc_slab_corruption_fn
sc_slab_set_corruption_handler(sc_slab_corruption_fn fn);
SC_API void sc_fault_inject(unsigned long nth);
SC_API unsigned long sc_fault_allocations(void);
#ifdef __cplusplus
}
#endif
#endif
