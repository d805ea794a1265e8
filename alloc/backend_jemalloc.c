// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * jemalloc backend: slabs from a private arena created with
 * mallctl("arenas.create"), allocated without the thread cache so that a
 * freed slab goes straight back to the arena, and purged with
 * mallctl("arena.<a>.purge") after each run of frees, so that its dirty
 * pages go back to the kernel at once instead of after the decay time
 * (10 s by default, and only while the arena is busy). The arena never
 * decays on its own: a run of slabs freed together is purged in one call,
 * which merges neighbouring slabs into fewer, larger madvise() calls.
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
static size_t jemalloc_purge_mib[3];
static size_t jemalloc_purge_miblen;

int sc_backend_jemalloc_init(void)
{
	size_t len = sizeof(unsigned int);
	ssize_t never = -1;
	unsigned int arena;
	char ctl[48];

	jemalloc_purge_miblen = 3;
	if (mallctlnametomib("arena.0.purge", jemalloc_purge_mib,
			     &jemalloc_purge_miblen) ||
	    mallctl("arenas.create", &arena, &len, NULL, 0))
		return sc_err(-ENOMEM);
	jemalloc_purge_mib[1] = arena;
	jemalloc_flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
	/* best effort: a jemalloc refusing these still purges on flush */
	snprintf(ctl, sizeof(ctl), "arena.%u.dirty_decay_ms", arena);
	mallctl(ctl, NULL, NULL, &never, sizeof(never));
	snprintf(ctl, sizeof(ctl), "arena.%u.muzzy_decay_ms", arena);
	mallctl(ctl, NULL, NULL, &never, sizeof(never));
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
	mallctlbymib(jemalloc_purge_mib, jemalloc_purge_miblen, NULL, NULL,
		     NULL, 0);
}

const struct sc_backend_ops sc_backend_jemalloc_ops = {
	.name = "jemalloc",
	.slab_alloc = jemalloc_slab_alloc,
	.slab_free = jemalloc_slab_free,
	.flush = jemalloc_purge,
	.purge = jemalloc_purge,
};
