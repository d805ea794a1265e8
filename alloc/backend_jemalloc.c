// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * jemalloc backend: slabs from a private arena created with
 * mallctl("arenas.create"), allocated without the thread cache so that a
 * freed slab goes straight back to the arena, and purged with
 * mallctl("arena.<a>.purge") so that its dirty pages go back to the kernel
 * at once instead of after the decay time.
 *
 * Debian's libjemalloc is unprefixed: linking it makes jemalloc the
 * process's malloc too; the arena keeps our slabs apart from it.
 *
 * Lock order: none; jemalloc locks its arena itself.
 */
#include <errno.h>
#include <stdio.h>

#include <jemalloc/jemalloc.h>

#include "alloc/backend.h"

static int jemalloc_flags;
static char jemalloc_purge_ctl[48];

int sc_backend_jemalloc_init(void)
{
	size_t len = sizeof(unsigned int);
	unsigned int arena;

	ssize_t no_decay = 0;
	char ctl[48];

	if (mallctl("arenas.create", &arena, &len, NULL, 0))
		return sc_err(ENOMEM);
	/*
	 * A slab given back is memory given back: without this, its dirty
	 * pages stay resident for dirty_decay_ms (10 s by default) and are
	 * only returned while the arena is busy. The libc backend unmaps at
	 * once; this makes the two alike.
	 */
	snprintf(ctl, sizeof(ctl), "arena.%u.dirty_decay_ms", arena);
	mallctl(ctl, NULL, NULL, &no_decay, sizeof(no_decay));
	snprintf(ctl, sizeof(ctl), "arena.%u.muzzy_decay_ms", arena);
	mallctl(ctl, NULL, NULL, &no_decay, sizeof(no_decay));
	jemalloc_flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
	snprintf(jemalloc_purge_ctl, sizeof(jemalloc_purge_ctl),
		 "arena.%u.purge", arena);
	return 0;
}

static void *jemalloc_slab_alloc(size_t size)
{
	return mallocx(size, jemalloc_flags | MALLOCX_ALIGN(size));
}

static void jemalloc_slab_free(void *p, size_t size)
{
	sdallocx(p, size, jemalloc_flags | MALLOCX_ALIGN(size));
}

static void jemalloc_purge(void)
{
	mallctl(jemalloc_purge_ctl, NULL, NULL, NULL, 0);
}

const struct sc_backend_ops sc_backend_jemalloc_ops = {
	.name = "jemalloc",
	.slab_alloc = jemalloc_slab_alloc,
	.slab_free = jemalloc_slab_free,
	.purge = jemalloc_purge,
};
