/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_BENCH_CACHE_PEERS_H
#define SC_BENCH_CACHE_PEERS_H

/*
 * The caches that the cache bench compares: slabcache, Qt 6 QCache
 * (cache_peer_qt.cpp, with Qt's default hash seed and with seed 0), a
 * uthash + utlist LRU (cache_peer_uthash.c), the same striped 64 ways with
 * a mutex and an LRU per stripe (cache_peer_striped.c), and as a ceiling
 * for lookups liburcu's lock-free hash table (cache_peer_lfht.c). A
 * two-build run adds slabcache built at another revision
 * (cache_peer_slabcache.c compiled again, see build-ref.sh).
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
 *
 * Exactness: every peer but two keeps exactly the N most recently used
 * keys at limit N. The striped peer evicts within a stripe of limit/64,
 * so it holds fewer and its find-hit phases miss a little (their hit
 * ratio is reported); the lookups-only peer has no limit and no eviction,
 * so it runs only the fill and the lookup phases.
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
	 * sc_cache_get()/sc_entry_put(), as its contract asks of threads
	 * that use a value after the call. A peer without pins reads the
	 * value while it holds its lock (or RCU read lock): its get is its
	 * find.
	 */
	bool (*get_one_mt)(void *c, const char *key, size_t len);
	bool (*get_or_insert_one_mt)(void *c, const char *key, size_t len);
	void (*clear)(void *c);
	size_t (*count)(void *c);
	/* Library bytes the cache holds by its own count; NULL: none. */
	size_t (*memory)(void *c);
	/* no limit, no eviction: fill and lookup phases only */
	bool lookups_only;
	/* holds fewer than N keys at limit N (see above) */
	bool inexact;
	/* Called by each worker thread before its first and after its last
	 * call (liburcu's thread registration); NULL: nothing to do. */
	void (*thread_enter)(void);
	void (*thread_exit)(void);
};

/*
 * Defines a batch function, static size_t name(void *c, const char *reqs,
 * size_t slot, size_t n), that evaluates the expression answer once per
 * request with key and len naming that request, and counts the true
 * answers. The expression calls the peer's own (inline) function, so the
 * loop holds no indirect call.
 */
#define CACHE_PEER_BATCH(name, answer)                                       \
	static size_t name(void *c, const char *reqs, size_t slot, size_t n) \
	{                                                                    \
		size_t yes = 0;                                              \
                                                                             \
		for (size_t i = 0; i < n; i++) {                             \
			const char *key = reqs + i * slot;                   \
			size_t len = slot - 1;                               \
                                                                             \
			(void)len;                                           \
			yes += (answer);                                     \
		}                                                            \
		return yes;                                                  \
	}

/* The value every peer stores: an opaque pointer, never dereferenced. */
extern char bench_cache_value[64];

extern const struct cache_peer cache_peer_slabcache;
extern const struct cache_peer cache_peer_slabcache_sieve;
extern const struct cache_peer cache_peer_slabcache_s3fifo;
extern const struct cache_peer cache_peer_uthash;
extern const struct cache_peer cache_peer_qcache;
extern const struct cache_peer cache_peer_qcache_seed0;
extern const struct cache_peer cache_peer_striped;
extern const struct cache_peer cache_peer_lfht;
#ifdef SC_BENCH_WITH_REF
/* slabcache built at another revision (make bench-compare) */
extern const struct cache_peer cache_peer_slabcache_ref;
#endif

#ifdef __cplusplus
}
#endif

#endif /* SC_BENCH_CACHE_PEERS_H */
