/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_BENCH_CACHE_PEERS_H
#define SC_BENCH_CACHE_PEERS_H

/*
 * The caches that the cache bench compares: slabcache, Qt 6 QCache
 * (cache_peer_qt.cpp, with Qt's default hash seed and with seed 0) and a
 * uthash + utlist LRU (cache_peer_uthash.c).
 *
 * Every peer holds string keys with cost 1 each under a total cost limit
 * and evicts the least recently used entry, so with limit N all peers keep
 * the same N keys. The batch functions loop inside the peer, so no
 * indirect call sits between two measured operations; the *_one functions
 * serve isolated-latency sampling and the threaded phases.
 *
 * A request buffer holds n keys of slot bytes each, NUL-terminated, of
 * length slot - 1 (harness.h: bench_key_format()).
 *
 * Thread rules: a peer whose thread_safe is false is called by one thread
 * at a time (the threaded phases take a mutex around each call).
 */
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cache_peer {
	const char *name; /* no commas: plot.sh splits the CSV on them */
	bool thread_safe;
	void *(*create)(size_t limit);
	void (*destroy)(void *c);
	/* Each returns how many of the n requests hit (or were stored). */
	size_t (*insert_batch)(void *c, const char *reqs, size_t slot,
			       size_t n);
	size_t (*find_batch)(void *c, const char *reqs, size_t slot, size_t n);
	size_t (*remove_batch)(void *c, const char *reqs, size_t slot,
			       size_t n);
	/* find; on a miss insert with cost 1 */
	size_t (*get_or_insert_batch)(void *c, const char *reqs, size_t slot,
				      size_t n);
	bool (*find_one)(void *c, const char *key, size_t len);
	bool (*get_or_insert_one)(void *c, const char *key, size_t len);
	/*
	 * The same for threads sharing the cache: slabcache pins with
	 * sc_cache_get()/sc_entry_put(), as its contract asks of threads.
	 */
	bool (*find_one_mt)(void *c, const char *key, size_t len);
	bool (*get_or_insert_one_mt)(void *c, const char *key, size_t len);
	void (*clear)(void *c);
	size_t (*count)(void *c);
};

/* The value every peer stores: an opaque pointer, never dereferenced. */
extern char bench_cache_value[64];

extern const struct cache_peer cache_peer_slabcache;
extern const struct cache_peer cache_peer_slabcache_sieve;
extern const struct cache_peer cache_peer_slabcache_s3fifo;
extern const struct cache_peer cache_peer_uthash;
extern const struct cache_peer cache_peer_qcache;
extern const struct cache_peer cache_peer_qcache_seed0;

#ifdef __cplusplus
}
#endif

#endif /* SC_BENCH_CACHE_PEERS_H */
