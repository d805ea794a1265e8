/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_ALLOC_BACKEND_H
#define SC_ALLOC_BACKEND_H

/*
 * Backend allocators of the slab layer: where slabs (large blocks aligned
 * to their own power-of-two size) come from and go back to.
 *
 * The backend is chosen once, at first use, and never changes: jemalloc
 * (a private arena) when built with CONFIG_JEMALLOC, libc (mmap/munmap)
 * otherwise or when the environment says SC_ALLOC_BACKEND=libc.
 *
 * Backends do no fault injection: the slab layer counts the attempt before
 * it calls slab_alloc(), so each allocation is counted exactly once.
 */
#include <stddef.h>

#include "alloc/alloc.h"

/**
 * struct sc_backend_ops - One backend allocator.
 * @name: "jemalloc" or "libc", as sc_alloc_backend() reports it.
 * @slab_alloc: A block of @size bytes aligned to @size (a power of two,
 *              at least 64 KiB), or NULL.
 * @slab_free: Give back a block from slab_alloc() of @size bytes.
 * @flush: Return the pages of the blocks given back so far to the system,
 *         or NULL where slab_free() already does (munmap). Called once
 *         after each run of slab_free() calls, so that a run of
 *         neighbouring blocks goes back in one go.
 * @purge: flush, and return the process allocator's free memory too
 *         (arena purge, malloc_trim).
 */
struct sc_backend_ops {
	const char *name;
	void *(*slab_alloc)(size_t size);
	void (*slab_free)(void *p, size_t size);
	void (*flush)(void);
	void (*purge)(void);
};

/* The backend in use; selected on the first call. Never NULL. */
SC_HIDDEN const struct sc_backend_ops *sc_backend(void);

SC_HIDDEN extern const struct sc_backend_ops sc_backend_libc_ops;

#ifdef CONFIG_JEMALLOC
/*
 * sc_backend_jemalloc_init() - Create the private arena.
 * Return: 0, or -ENOMEM when jemalloc refuses (the libc backend is used).
 */
SC_HIDDEN int sc_backend_jemalloc_init(void);
SC_HIDDEN extern const struct sc_backend_ops sc_backend_jemalloc_ops;
#endif

#endif /* SC_ALLOC_BACKEND_H */
