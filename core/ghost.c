// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * S3-FIFO's ghost: about the last 16 x nr_buckets keys evicted, 4 bytes
 * each (the paper keeps the keys themselves, as many as the main queue
 * holds, and only those evicted from the small queue). Each slot tags its
 * key with the queue it left (bit 0 set: M), and the ghost counts the
 * slots of each tag: a key asked for again moves the small queue's share
 * towards the queue it left, as ARC moves its target (core/queue.c).
 *
 * A key's bucket comes from the high half of its 64-bit hash, its
 * fingerprint is the low half but bit 0 (2 when that is 0: 0 marks a free
 * slot).
 * Each bucket is a ring: add overwrites the slot under the bucket's
 * cursor and moves the cursor on, so a bucket forgets its oldest key
 * first. A key is found when a slot of its bucket holds its fingerprint;
 * a false match needs both the same bucket and the same 31 fingerprint
 * bits, about 16 in 2^31 per lookup, and costs one key a place in the main
 * queue it had not earned. Finding a key forgets it (its slot becomes
 * free): the key is back in the cache.
 *
 * Buckets are one 64-byte line each, aligned, so a find or an add reads
 * one line of slots (and one cursor byte for an add). The memory is one
 * allocation: the struct, the buckets, the cursors.
 *
 * Context: everything here runs under the cache lock (core/queue.c and
 * core/cache.c call it); nothing reads the ghost without it.
 */
#include "core/ghost.h"

#define SC_GHOST_ALIGN 64

struct sc_ghost *sc_ghost_new(size_t entries)
{
	size_t nb = entries / SC_GHOST_WAYS + !!(entries % SC_GHOST_WAYS);
	size_t bytes, buckets;
	struct sc_ghost *g;
	uintptr_t p;

	if (!nb)
		nb = 1;
	if (!sc_size_mul(nb, sizeof(g->slots[0]), &buckets) ||
	    !sc_size_add(buckets, sizeof(*g) + SC_GHOST_ALIGN + nb, &bytes))
		return NULL;
	g = sc_mem_zalloc(bytes);
	if (!g)
		return NULL;
	g->nr_buckets = nb;
	g->bytes = bytes;
	p = ((uintptr_t)(g + 1) + SC_GHOST_ALIGN - 1) &
	    ~(uintptr_t)(SC_GHOST_ALIGN - 1);
	g->slots = (uint32_t(*)[SC_GHOST_WAYS])p;
	g->cursor = (uint8_t *)(p + buckets);
	return g;
}

void sc_ghost_free(struct sc_ghost *g)
{
	if (g)
		sc_mem_free(g, g->bytes);
}
