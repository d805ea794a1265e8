/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_INTERNAL_H
#define SC_CORE_INTERNAL_H

/*
 * Private interface shared by the files of core/. Nothing in include/
 * includes this header.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc/alloc.h"

/*
 * sc_prefetchw() - Start fetching the line of @p for writing (exclusive),
 * so that a later store finds it owned. __builtin_prefetch(p, 1) gives a
 * read prefetch unless the target has PREFETCHW, and a line fetched for
 * reading while another core holds it still needs a second request before
 * a store; the instruction is a no-op on x86-64 cores without it.
 */
static inline void sc_prefetchw(const void *p)
{
#if defined(__x86_64__)
	__asm__ __volatile__("prefetchw %0" ::"m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

/* ---------------------------------------------------------- key hashing */

/*
 * sc_key_hash() reads the key only through direct loads from the key
 * itself: the tail is one overlapping unaligned 8-byte load, never a value
 * assembled in a partly written stack temporary, whose reload would stall
 * on store forwarding behind the previous lookup's cache miss. Chunks are
 * mixed with a 64x64->128 multiply folded to 64 bits and the result is
 * finalized with murmur3's fmix64, so that both the low bits (the table
 * index) and the top bits (the slot tag) are well spread. The seed is per
 * cache and random, so colliding keys cannot be prepared in advance.
 */
#define SC_HASH_K1 0xa0761d6478bd642fULL
#define SC_HASH_K2 0xe7037ed1a0b428dbULL
#define SC_HASH_K3 0x8ebc6af09c88c6e3ULL

static inline uint64_t sc_hash_rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t sc_hash_rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t sc_hash_mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t sc_hash_fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

/**
 * sc_key_hash() - Hash a key of @len bytes.
 * @seed: Per-table random seed.
 * @key: Key bytes (not necessarily NUL-terminated).
 * @len: Length in bytes.
 *
 * Context: Any.
 * Return: A 64-bit hash.
 */
static inline uint64_t sc_key_hash(uint64_t seed, const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t h = seed ^ ((uint64_t)len * SC_HASH_K3);
	uint64_t a, b;

	if (len > 16) {
		const unsigned char *end = p + len;

		while (end - p > 16) {
			h = sc_hash_mum(sc_hash_rd64(p) ^ h ^ SC_HASH_K1,
					sc_hash_rd64(p + 8) ^ h ^ SC_HASH_K2);
			p += 16;
		}
		a = sc_hash_rd64(end - 16);
		b = sc_hash_rd64(end - 8);
	} else if (len >= 8) {
		a = sc_hash_rd64(p);
		b = sc_hash_rd64(p + len - 8);
	} else if (len >= 4) {
		a = sc_hash_rd32(p);
		b = sc_hash_rd32(p + len - 4);
	} else if (len) {
		a = (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 |
		    p[len - 1];
		b = 0;
	} else {
		a = 0;
		b = 0;
	}
	return sc_hash_fmix64(
		sc_hash_mum(a ^ h ^ SC_HASH_K1, b ^ h ^ SC_HASH_K2) ^ len);
}

/* ------------------------------------------------------ cache (cache.c) */

struct sc_cache;

/*
 * sc_cache_hash_seed() - The seed of a cache's key hash, for white-box
 * tests that need keys colliding in the index.
 * Return: The seed.
 */
SC_HIDDEN uint64_t sc_cache_hash_seed(const struct sc_cache *c);

/*
 * sc_cache_set_hash_seed() - Set the seed of an empty cache's key hash,
 * for tests that replay a stream through the cache and through a model of
 * its policy that hashes keys (S3-FIFO's ghost) with a known seed.
 * Context: no other thread may use @c.
 * Return: 0, or -EBUSY if @c holds or pins an entry.
 */
SC_HIDDEN int sc_cache_set_hash_seed(struct sc_cache *c, uint64_t seed);

/*
 * sc_cache_check() - Verify a cache's invariants (white-box tests): the
 * LRU list against count and total cost, every string entry at its index
 * slot with the right tag and distance and no hole before it, the index
 * occupancy, every handle entry in its key slot, the key free list; the
 * SIEVE hand on a queued entry, and no hand or visited bit without SIEVE.
 * Context: Takes the cache lock; O(entries + slots).
 * Return: 0, or -EUCLEAN with *@why naming the first broken invariant.
 */
SC_HIDDEN int sc_cache_check(struct sc_cache *c, const char **why);

/*
 * sc_cache_s3fifo_state() - S3-FIFO's state (white-box tests): the costs
 * on the small and the main queue, the small queue's share, the ghost's bucket count (0: no ghost)
 * and a digest of what it remembers. Linked where sc_cache_check() is.
 * Context: Takes the cache lock.
 */
struct sc_s3fifo_state {
	size_t small_cost, main_cost, small_target, ghost_buckets;
	uint64_t ghost_digest;
};

SC_HIDDEN void sc_cache_s3fifo_state(struct sc_cache *c,
				     struct sc_s3fifo_state *st);

/* ------------------------------------------------ pressure (base64.c) */

#include <sys/types.h>

/**
 * sc_base64_decode() - Decode strict RFC 4648 Base64.
 * @in: NUL-terminated input; padding required, no whitespace.
 * @out: Output buffer.
 * @out_size: Bytes available at @out.
 *
 * Context: Any; no allocation.
 * Return: Bytes written, %-EINVAL for malformed input, %-ENOBUFS when
 * @out is too small.
 */
SC_HIDDEN ssize_t sc_base64_decode(const char *in, void *out, size_t out_size);

#endif /* SC_CORE_INTERNAL_H */
