// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libc backend: slabs straight from mmap(), aligned by over-mapping and
 * trimming, so that munmap() hands every freed slab back to the kernel at
 * once and RSS drops without any purge. purge() runs malloc_trim(0) for
 * the library's own malloc'ed structures (sc_mem_*), when glibc's malloc
 * is the process's malloc.
 *
 * Lock order: none; the kernel serializes the mappings.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "alloc/backend.h"

static void *libc_slab_alloc(size_t size)
{
	size_t map_size, head, tail;
	uintptr_t addr, aligned;
	void *p;

	/* size is a power of two >= 64 KiB: over-map by size, trim both ends */
	if (!sc_size_add(size, size, &map_size))
		return NULL;
	p = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	addr = (uintptr_t)p;
	aligned = (addr + size - 1) & ~(uintptr_t)(size - 1);
	head = aligned - addr;
	tail = map_size - head - size;
	if (head)
		munmap(p, head);
	if (tail)
		munmap((void *)(aligned + size), tail);
	return (void *)aligned;
}

static void libc_slab_free(void *p, size_t size)
{
	munmap(p, size);
}

/* glibc's own name for its malloc, which interposers leave alone */
extern void *__libc_malloc(size_t size);

/*
 * malloc_trim() only helps when glibc's malloc is the process's malloc.
 * Where another allocator interposes malloc (jemalloc linked, a
 * sanitizer's runtime), glibc's malloc may never have been initialised,
 * and malloc_trim() would initialise it from whatever thread calls it,
 * pointing that thread at main_arena without counting it as attached:
 * glibc then aborts when such threads exit ("malloc assertion failure in
 * __malloc_arena_thread_freeres: a->attached_threads > 0"). When malloc
 * is glibc's, malloc and __libc_malloc are the same function.
 */
static bool libc_malloc_is_glibc(void)
{
	return (uintptr_t)&malloc == (uintptr_t)&__libc_malloc;
}

static void libc_purge(void)
{
	if (libc_malloc_is_glibc())
		malloc_trim(0);
}

const struct sc_backend_ops sc_backend_libc_ops = {
	.name = "libc",
	.slab_alloc = libc_slab_alloc,
	.slab_free = libc_slab_free,
	.flush = NULL, /* munmap gave the pages back */
	.purge = libc_purge,
};
