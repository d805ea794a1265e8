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
#include <errno.h>

#include "core/cache_internal.h"

#define SC_GHOST_WAYS 16

struct sc_ghost {
	size_t nr_buckets;
	size_t bytes; /* the allocation, for sc_cache_memory() and free */
	uint8_t *cursor; /* per bucket: the slot the next add overwrites */
	uint32_t (*slots)[SC_GHOST_WAYS]; /* 64-byte aligned buckets */
};

/* The bucket of a policy hash: Lemire's reduction of its high half. */
static inline size_t sc_ghost_bucket_of(size_t nr_buckets, uint64_t hash)
{
	return (size_t)(((hash >> 32) * (uint64_t)nr_buckets) >> 32);
}

static inline size_t sc_ghost_bucket(const struct sc_ghost *g, uint64_t hash)
{
	return sc_ghost_bucket_of(g->nr_buckets, hash);
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

/* Remember @hash, forgetting the oldest key of its bucket. */
static inline void sc_ghost_add(struct sc_ghost *g, uint64_t hash)
{
	size_t b = sc_ghost_bucket(g, hash);
	unsigned int c = g->cursor[b];

	g->slots[b][c] = sc_ghost_fp(hash);
	g->cursor[b] = (uint8_t)((c + 1) % SC_GHOST_WAYS);
}

typedef uint32_t sc_ghost_v4 __attribute__((vector_size(16)));

/*
 * Where @hash is remembered (the first slot holding its fingerprint), or
 * -1. Finding does not forget: sc_ghost_forget() does, so that an insert
 * can look before it may still fail, and forget only once it commits.
 * Most lookups miss: four 4-lane compares answer those without a loop.
 */
static inline long sc_ghost_find(const struct sc_ghost *g, uint64_t hash)
{
	const uint32_t *s = g->slots[sc_ghost_bucket(g, hash)];
	uint32_t fp = sc_ghost_fp(hash);
	sc_ghost_v4 v[4], any;
	uint64_t half[2];
	unsigned int i;

	memcpy(v, s, sizeof(v));
	any = (sc_ghost_v4)(v[0] == fp) | (sc_ghost_v4)(v[1] == fp) |
	      (sc_ghost_v4)(v[2] == fp) | (sc_ghost_v4)(v[3] == fp);
	memcpy(half, &any, sizeof(half));
	if (sc_likely(!(half[0] | half[1])))
		return -1;
	for (i = 0; i < SC_GHOST_WAYS; i++)
		if (s[i] == fp)
			break;
	return (long)i;
}

static inline void sc_ghost_forget(struct sc_ghost *g, uint64_t hash, long slot)
{
	g->slots[sc_ghost_bucket(g, hash)][slot] = 0;
}

/* A ghost for @entries keys, empty; NULL without memory. */
SC_HIDDEN struct sc_ghost *sc_ghost_new(size_t entries);
SC_HIDDEN void sc_ghost_free(struct sc_ghost *g);

#endif /* SC_CORE_GHOST_H */
