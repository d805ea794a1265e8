// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Peer: slabcache itself, through its public API only. String keys with
 * sc_cache_insert/find/remove; no shrinker (SC_CACHE_NO_SHRINKER), so that
 * a pressure event cannot disturb a measurement. Single-threaded phases
 * use the borrowed-pointer sc_cache_find(); threaded phases pin with
 * sc_cache_get()/sc_entry_put(), as the contract asks of threads sharing
 * a cache. Thread-safe by itself: no bench mutex around it.
 *
 * Also as slabcache-sieve and slabcache-s3fifo: the same calls on a cache
 * created with SC_CACHE_POLICY_SIEVE or SC_CACHE_POLICY_S3FIFO, so that
 * the policies are timed against exact LRU in the same run. (Every entry
 * costs 1 under a limit of N >= 10: S3-FIFO never refuses one.)
 */
#include <slabcache.h>

#include "cache_peers.h"

static void *sc_peer_create_flags(size_t limit, unsigned int policy)
{
	struct sc_cache_config cfg = {
		.name = "bench",
		.limit = limit,
		.flags = SC_CACHE_NO_SHRINKER | policy,
	};

	return sc_cache_create(&cfg);
}

static void *sc_peer_create(size_t limit)
{
	return sc_peer_create_flags(limit, 0);
}

static void *sc_peer_create_sieve(size_t limit)
{
	return sc_peer_create_flags(limit, SC_CACHE_POLICY_SIEVE);
}

static void *sc_peer_create_s3fifo(size_t limit)
{
	return sc_peer_create_flags(limit, SC_CACHE_POLICY_S3FIFO);
}

static void sc_peer_destroy(void *c)
{
	sc_cache_destroy(c);
}

static size_t sc_peer_insert_batch(void *c, const char *reqs, size_t slot,
				   size_t n)
{
	size_t stored = 0;

	for (size_t i = 0; i < n; i++)
		stored += !sc_cache_insert(c, reqs + i * slot,
					   bench_cache_value, 1);
	return stored;
}

static size_t sc_peer_find_batch(void *c, const char *reqs, size_t slot,
				 size_t n)
{
	size_t hits = 0;

	for (size_t i = 0; i < n; i++)
		hits += sc_cache_find(c, reqs + i * slot) != NULL;
	return hits;
}

static size_t sc_peer_remove_batch(void *c, const char *reqs, size_t slot,
				   size_t n)
{
	size_t hits = 0;

	for (size_t i = 0; i < n; i++)
		hits += !sc_cache_remove(c, reqs + i * slot);
	return hits;
}

static bool sc_peer_get_or_insert_one(void *c, const char *key, size_t len)
{
	if (sc_cache_find(c, key))
		return true;
	sc_cache_insert(c, key, bench_cache_value, 1);
	return false;
}

static size_t sc_peer_get_or_insert_batch(void *c, const char *reqs,
					  size_t slot, size_t n)
{
	size_t hits = 0;

	for (size_t i = 0; i < n; i++)
		hits += sc_peer_get_or_insert_one(c, reqs + i * slot, slot - 1);
	return hits;
}

static bool sc_peer_find_one(void *c, const char *key, size_t len)
{
	return sc_cache_find(c, key) != NULL;
}

static bool sc_peer_find_one_mt(void *c, const char *key, size_t len)
{
	struct sc_entry *e = sc_cache_get(c, key);

	if (!e)
		return false;
	sc_entry_put(e);
	return true;
}

static bool sc_peer_get_or_insert_one_mt(void *c, const char *key, size_t len)
{
	if (sc_peer_find_one_mt(c, key, len))
		return true;
	sc_cache_insert(c, key, bench_cache_value, 1);
	return false;
}

static void sc_peer_clear(void *c)
{
	sc_cache_clear(c);
}

static size_t sc_peer_count(void *c)
{
	return sc_cache_count(c);
}

#define SC_PEER_CALLS                                         \
	.thread_safe = true, .destroy = sc_peer_destroy,      \
	.insert_batch = sc_peer_insert_batch,                 \
	.find_batch = sc_peer_find_batch,                     \
	.remove_batch = sc_peer_remove_batch,                 \
	.get_or_insert_batch = sc_peer_get_or_insert_batch,   \
	.find_one = sc_peer_find_one,                         \
	.get_or_insert_one = sc_peer_get_or_insert_one,       \
	.find_one_mt = sc_peer_find_one_mt,                   \
	.get_or_insert_one_mt = sc_peer_get_or_insert_one_mt, \
	.clear = sc_peer_clear, .count = sc_peer_count

const struct cache_peer cache_peer_slabcache_sieve = {
	.name = "slabcache-sieve",
	.create = sc_peer_create_sieve,
	SC_PEER_CALLS,
};

const struct cache_peer cache_peer_slabcache_s3fifo = {
	.name = "slabcache-s3fifo",
	.create = sc_peer_create_s3fifo,
	SC_PEER_CALLS,
};

const struct cache_peer cache_peer_slabcache = {
	.name = "slabcache",
	.thread_safe = true,
	.create = sc_peer_create,
	.destroy = sc_peer_destroy,
	.insert_batch = sc_peer_insert_batch,
	.find_batch = sc_peer_find_batch,
	.remove_batch = sc_peer_remove_batch,
	.get_or_insert_batch = sc_peer_get_or_insert_batch,
	.find_one = sc_peer_find_one,
	.get_or_insert_one = sc_peer_get_or_insert_one,
	.find_one_mt = sc_peer_find_one_mt,
	.get_or_insert_one_mt = sc_peer_get_or_insert_one_mt,
	.clear = sc_peer_clear,
	.count = sc_peer_count,
};
