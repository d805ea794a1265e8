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
 *
 * Compiled a second time with SC_BENCH_PEER_REF for a two-build run
 * (make bench-compare): then a generated header renames every sc_*
 * function to the ref_sc_* of a library built at another revision
 * (tools/bench/build-ref.sh), and the peer is named after that revision.
 */
#include <slabcache.h>

#include "cache_peers.h"

#ifdef SC_BENCH_PEER_REF
#define SC_PEER cache_peer_slabcache_ref
#define SC_PEER_NAME SC_BENCH_REF_NAME
#else
#define SC_PEER cache_peer_slabcache
#define SC_PEER_NAME "slabcache"
#endif

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

static void sc_peer_destroy(void *c)
{
	sc_cache_destroy(c);
}

CACHE_PEER_BATCH(sc_peer_insert_batch,
		 !sc_cache_insert(c, key, bench_cache_value, 1))

CACHE_PEER_BATCH(sc_peer_find_batch, sc_cache_find(c, key) != NULL)

CACHE_PEER_BATCH(sc_peer_remove_batch, !sc_cache_remove(c, key))

static bool sc_peer_get_or_insert_one(void *c, const char *key, size_t len)
{
	if (sc_cache_find(c, key))
		return true;
	sc_cache_insert(c, key, bench_cache_value, 1);
	return false;
}

CACHE_PEER_BATCH(sc_peer_get_or_insert_batch,
		 sc_peer_get_or_insert_one(c, key, len))

static bool sc_peer_find_one(void *c, const char *key, size_t len)
{
	return sc_cache_find(c, key) != NULL;
}

static bool sc_peer_get_one_mt(void *c, const char *key, size_t len)
{
	struct sc_entry *e = sc_cache_get(c, key);
	void *value;

	if (!e)
		return false;
	value = sc_entry_value(e);
	sc_entry_put(e);
	return value != NULL;
}

static bool sc_peer_get_or_insert_one_mt(void *c, const char *key, size_t len)
{
	if (sc_peer_get_one_mt(c, key, len))
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

static size_t sc_peer_memory(void *c)
{
	return sc_cache_memory(c);
}

const struct cache_peer SC_PEER = {
	.name = SC_PEER_NAME,
	.thread_safe = true,
	.create = sc_peer_create,
	.destroy = sc_peer_destroy,
	.insert_batch = sc_peer_insert_batch,
	.find_batch = sc_peer_find_batch,
	.remove_batch = sc_peer_remove_batch,
	.get_or_insert_batch = sc_peer_get_or_insert_batch,
	.find_one = sc_peer_find_one,
	.get_or_insert_one = sc_peer_get_or_insert_one,
	.get_one_mt = sc_peer_get_one_mt,
	.get_or_insert_one_mt = sc_peer_get_or_insert_one_mt,
	.clear = sc_peer_clear,
	.count = sc_peer_count,
	.memory = sc_peer_memory,
};

/* The policies exist only in this tree, not in a REF build. */
#ifndef SC_BENCH_PEER_REF
static void *sc_peer_create_sieve(size_t limit)
{
	return sc_peer_create_flags(limit, SC_CACHE_POLICY_SIEVE);
}

static void *sc_peer_create_s3fifo(size_t limit)
{
	return sc_peer_create_flags(limit, SC_CACHE_POLICY_S3FIFO);
}

#define SC_POLICY_PEER(name_, create_)                                 \
	{                                                              \
		.name = name_, .thread_safe = true, .create = create_, \
		.destroy = sc_peer_destroy,                            \
		.insert_batch = sc_peer_insert_batch,                  \
		.find_batch = sc_peer_find_batch,                      \
		.remove_batch = sc_peer_remove_batch,                  \
		.get_or_insert_batch = sc_peer_get_or_insert_batch,    \
		.find_one = sc_peer_find_one,                          \
		.get_or_insert_one = sc_peer_get_or_insert_one,        \
		.get_one_mt = sc_peer_get_one_mt,                      \
		.get_or_insert_one_mt = sc_peer_get_or_insert_one_mt,  \
		.clear = sc_peer_clear, .count = sc_peer_count,        \
		.memory = sc_peer_memory,                              \
	}

const struct cache_peer cache_peer_slabcache_sieve =
	SC_POLICY_PEER("slabcache-sieve", sc_peer_create_sieve);
const struct cache_peer cache_peer_slabcache_s3fifo =
	SC_POLICY_PEER("slabcache-s3fifo", sc_peer_create_s3fifo);
#endif
