/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_GHOST_H
#define SC_CORE_GHOST_H

/*
 * S3-FIFO's ghost (core/ghost.c): the keys recently evicted from the
 * small queue, as 32-bit fingerprints in 64-byte buckets of 16, each
 * bucket a FIFO ring of its own. Only writers touch it, under the cache
 * lock; lookups never read it. Documentation/policy.rst ("The ghost") is
 * the specification, selftests/policy/models.py (Ghost) the same text in
 * Python.
 */
#include "core/cache_internal.h"
#include <errno.h>

#define SC_GHOST_WAYS 16

struct sc_ghost {
	size_t nr_buckets;
	size_t bytes; /* the allocation, for sc_cache_memory() and free */
	uint8_t *cursor; /* per bucket: the slot the next add overwrites */
	uint32_t (*slots)[SC_GHOST_WAYS]; /* 64-byte aligned buckets */
};

/* The bucket of a policy hash: Lemire's reduction of its high half. */
static inline size_t sc_ghost_bucket(const struct sc_ghost *g, uint64_t hash)
{
	return (size_t)(((hash >> 32) * (uint64_t)g->nr_buckets) >> 32);
}

/* The fingerprint: the low half, 0 being a free slot. */
static inline uint32_t sc_ghost_fp(uint64_t hash)
{
	return (uint32_t)hash ? (uint32_t)hash : 1;
}

static inline void sc_ghost_prefetch(const struct sc_ghost *g, uint64_t hash)
{
	__builtin_prefetch(g->slots[sc_ghost_bucket(g, hash)], 1);
}

/* A ghost for @entries keys, empty; NULL without memory. */
SC_HIDDEN struct sc_ghost *sc_ghost_new(size_t entries);
SC_HIDDEN void sc_ghost_free(struct sc_ghost *g);
/* Remember @hash, forgetting the oldest key of its bucket. */
SC_HIDDEN void sc_ghost_add(struct sc_ghost *g, uint64_t hash);
/*
 * Where @hash is remembered (the first slot holding its fingerprint), or
 * -1. Finding does not forget: sc_ghost_forget() does, so that an insert
 * can look before it may still fail, and forget only once it commits.
 */
SC_HIDDEN long sc_ghost_find(const struct sc_ghost *g, uint64_t hash);
SC_HIDDEN void sc_ghost_forget(struct sc_ghost *g, uint64_t hash, long slot);

#endif /* SC_CORE_GHOST_H */
