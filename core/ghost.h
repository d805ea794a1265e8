/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_GHOST_H
#define SC_CORE_GHOST_H

/*
 * S3-FIFO's ghost (core/ghost.c): the keys recently evicted, as 31-bit
 * fingerprints tagged with the queue each key left (bit 0: 1 for M), in
 * 64-byte buckets of 16, each bucket a FIFO ring of its own; a count of
 * the slots holding each tag, for the small queue's adaptation. Only writers touch it, under the cache
 * lock; lookups never read it. Documentation/policy.rst ("The ghost") is
 * the specification, selftests/policy/models.py (Ghost) the same text in
 * Python.
 */
#include <errno.h>

#include "core/cache_internal.h"

#define SC_GHOST_WAYS 16
#define SC_GHOST_TAG_MAIN 1u /* a slot's bit 0: the key left M, not S */

struct sc_ghost {
	size_t nr_buckets;
	size_t bytes; /* the allocation, for sc_cache_memory() and free */
	size_t nr_tag[2]; /* slots holding a key that left S, M */
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

/* The fingerprint: the low half but its tag bit, never 0 (a free slot). */
static inline uint32_t sc_ghost_fp(uint64_t hash)
{
	uint32_t fp = (uint32_t)hash & ~SC_GHOST_TAG_MAIN;

	return fp ? fp : 2;
}

static inline void sc_ghost_prefetch(const struct sc_ghost *g, uint64_t hash)
{
	__builtin_prefetch(g->slots[sc_ghost_bucket(g, hash)], 1);
}

/*
 * Remember @hash, which left M if @main, forgetting the oldest key of its
 * bucket.
 */
static inline void sc_ghost_add(struct sc_ghost *g, uint64_t hash, bool main)
{
	size_t b = sc_ghost_bucket(g, hash);
	unsigned int c = g->cursor[b];
	uint32_t old = g->slots[b][c];

	if (old)
		g->nr_tag[old & SC_GHOST_TAG_MAIN]--;
	g->slots[b][c] = sc_ghost_fp(hash) | main;
	g->nr_tag[main]++;
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
	uint32_t fp = sc_ghost_fp(hash), untag = ~SC_GHOST_TAG_MAIN;
	sc_ghost_v4 v[4], any;
	uint64_t half[2];
	unsigned int i;

	memcpy(v, s, sizeof(v));
	any = (sc_ghost_v4)((v[0] & untag) == fp) |
	      (sc_ghost_v4)((v[1] & untag) == fp) |
	      (sc_ghost_v4)((v[2] & untag) == fp) |
	      (sc_ghost_v4)((v[3] & untag) == fp);
	memcpy(half, &any, sizeof(half));
	if (sc_likely(!(half[0] | half[1])))
		return -1;
	for (i = 0; i < SC_GHOST_WAYS; i++)
		if ((s[i] & untag) == fp)
			break;
	return (long)i;
}

/* The tag of the slot sc_ghost_find() returned: true if the key left M. */
static inline bool sc_ghost_left_main(const struct sc_ghost *g, uint64_t hash,
				      long slot)
{
	return g->slots[sc_ghost_bucket(g, hash)][slot] & SC_GHOST_TAG_MAIN;
}

static inline void sc_ghost_forget(struct sc_ghost *g, uint64_t hash, long slot)
{
	uint32_t *s = &g->slots[sc_ghost_bucket(g, hash)][slot];

	g->nr_tag[*s & SC_GHOST_TAG_MAIN]--;
	*s = 0;
}

/* A ghost for @entries keys, empty; NULL without memory. */
SC_HIDDEN struct sc_ghost *sc_ghost_new(size_t entries);
SC_HIDDEN void sc_ghost_free(struct sc_ghost *g);

#endif /* SC_CORE_GHOST_H */
