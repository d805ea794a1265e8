/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_CACHE_S3FIFO_SPEC_H
#define SC_SELFTESTS_CACHE_S3FIFO_SPEC_H

/*
 * S3-FIFO's arithmetic as Documentation/policy.rst ("Algorithm") states
 * it, for the reference models of the tests (model.c's array model,
 * lincheck.c's sequential specification): the ghost's bucket, fingerprint,
 * add and take, the adaptation of the small queue's share, and the
 * ghost's sizing. Written from the text, not from core/; each model keeps
 * the queues in its own array and calls these for the numbers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_SMALL_PCT 10
#define S3_MOVE_HITS 2
#define S3_FREQ_MAX 7
#define S3_GHOST_PCT 50
#define S3_GHOST_WAYS 16

/* a * b / d, the exact floor (128-bit product) */
static inline uint64_t s3_mul_div(uint64_t a, uint64_t b, uint64_t d)
{
	return (uint64_t)((unsigned __int128)a * b / d);
}

/* The bar of the large-value rule, and S's first share. */
static inline uint64_t s3_small_max(uint64_t limit)
{
	return s3_mul_div(limit, S3_SMALL_PCT, 100);
}

/* "The ghost": (h >> 32) * buckets >> 32, Lemire's reduction. */
static inline size_t s3_bucket(uint64_t h, size_t buckets)
{
	return (size_t)(((h >> 32) * buckets) >> 32);
}

/* (uint32_t)h & ~1, or 2 when that is 0 (0 marks a free slot). */
static inline uint32_t s3_fp(uint64_t h)
{
	uint32_t fp = (uint32_t)h & ~1u;

	return fp ? fp : 2;
}

/*
 * add (h, tag) into one bucket's ring (@slot its 16 slots, @cursor its
 * cursor), counting the slots of each tag in @nr.
 */
static inline void s3_ghost_add(uint32_t *slot, uint8_t *cursor, uint32_t nr[2],
				uint64_t h, bool main)
{
	uint32_t old = slot[*cursor];

	if (old)
		nr[old & 1]--;
	slot[*cursor] = s3_fp(h) | main;
	nr[main]++;
	*cursor = (uint8_t)((*cursor + 1) % S3_GHOST_WAYS);
}

/* take: the lowest slot of the bucket holding h's fingerprint, or -1. */
static inline int s3_ghost_find(const uint32_t *slot, uint64_t h)
{
	for (int i = 0; i < S3_GHOST_WAYS; i++)
		if ((slot[i] & ~1u) == s3_fp(h))
			return i;
	return -1;
}

/*
 * "Adaptation": a key of @cost the ghost took with tag @main, with the
 * counts @nr as they are before its slot is freed. Returns the new
 * small_target; main_max is limit minus it.
 */
static inline uint64_t s3_adapt(uint64_t small_target, uint64_t limit,
				const uint32_t nr[2], bool main, uint64_t cost)
{
	uint64_t ratio = nr[!main] / nr[main];
	unsigned __int128 step = (unsigned __int128)(ratio ? ratio : 1) * cost;

	if (main)
		return step >= small_target ? 0 : small_target - (uint64_t)step;
	if (small_target + step > limit / 2)
		return limit / 2;
	return small_target + (uint64_t)step;
}

/*
 * "Sizing", for a stored insert, add or replace: should a new ghost
 * replace the current one (@have, sized for @sized entries)?
 */
static inline bool s3_ghost_grow(bool have, uint64_t sized, uint64_t count,
				 uint64_t total, uint64_t limit)
{
	if (!count)
		return false;
	if (!have)
		return total && 2 * (unsigned __int128)total >= limit;
	return count > sized;
}

/* The entries a new ghost is sized for. */
static inline uint64_t s3_ghost_sized(uint64_t count, uint64_t total,
				      uint64_t limit)
{
	uint64_t sized = count;

	if (total) {
		sized = s3_mul_div(count, limit, total);
		if (sized < count)
			sized = count;
		if (sized > 2 * count)
			sized = 2 * count;
	}
	return sized;
}

/* Its buckets: ceil(max(1, sized * 50 / 100) / 16). */
static inline size_t s3_ghost_buckets(uint64_t sized)
{
	uint64_t entries = s3_mul_div(sized, S3_GHOST_PCT, 100);

	if (!entries)
		entries = 1;
	return (size_t)((entries + S3_GHOST_WAYS - 1) / S3_GHOST_WAYS);
}

#endif /* SC_SELFTESTS_CACHE_S3FIFO_SPEC_H */
