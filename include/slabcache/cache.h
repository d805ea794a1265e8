/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHE_CACHE_H
#define SLABCACHE_CACHE_H

/*
 * The cost-bounded cache: Qt's QPixmapCache/QCache semantics (values with a
 * cost under a total limit, least-recently-used eviction, string keys and
 * handle keys) without their known defects. Every function is thread-safe;
 * a release callback never runs with a cache lock held.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <slabcache/export.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sc_cache;
struct sc_entry;

/**
 * typedef sc_key_t - A handle key, from sc_cache_add(); copy it freely.
 *
 * It holds a slot index and that slot's generation, so a handle whose entry
 * has gone can never reach a later value.
 */
typedef struct {
	uint64_t id;
} sc_key_t;

/* never valid */
#define SC_KEY_NONE ((sc_key_t){ 0 })
/* bytes; Qt's 10240 KB */
#define SC_CACHE_DEFAULT_LIMIT (10240u * 1024u)

/**
 * struct sc_cache_ops - Callbacks of a cache.
 * @release: The cache lets go of @value: evicted, removed, replaced,
 *           cleared, destroyed, or the last reference to an evicted entry
 *           was put. Runs exactly once per value taken, without any cache
 *           lock held, so it may call back into the cache.
 */
struct sc_cache_ops {
	void (*release)(void *value, void *priv);
};

/**
 * struct sc_cache_config - How to create a cache; all zero is valid.
 * @name: Name for slabinfo and the shrinker; NULL means "sc_cache".
 * @limit: Total cost limit in bytes; 0 means %SC_CACHE_DEFAULT_LIMIT.
 * @ops: Callbacks; NULL means values are never released.
 * @priv: Passed to @ops.
 * @flags: %SC_CACHE_NO_SHRINKER, and at most one of
 *         %SC_CACHE_POLICY_SIEVE and %SC_CACHE_POLICY_S3FIFO.
 */
struct sc_cache_config {
	const char *name;
	size_t limit;
	const struct sc_cache_ops *ops;
	void *priv;
	unsigned int flags;
};

/* do not register a shrinker */
#define SC_CACHE_NO_SHRINKER 0x1u

/**
 * define SC_CACHE_POLICY_SIEVE - Evict by SIEVE instead of exact LRU.
 *
 * Opt-in eviction policy (Zhang et al., "SIEVE is Simpler than LRU",
 * NSDI '24). Entries are kept in insertion order; sc_cache_find(),
 * sc_cache_find_key(), sc_cache_get() and sc_cache_get_key() set a visited
 * bit on the entry instead of moving it, so a hit writes neither of its
 * list neighbours (and nothing at all to an entry already visited). A
 * "hand" walks from the oldest entry towards the newest, clearing visited
 * bits, and evicts the first entry it finds not visited; it keeps its place
 * between evictions and wraps to the oldest entry past the newest. Every
 * eviction follows the hand: by the limit (insert, add, replace), by
 * sc_cache_set_limit(), sc_cache_shrink(), shrinkers and sc_cache_age().
 * Inserting over an existing key and sc_cache_replace() store a new entry
 * at the newest end, not visited. Everything else (cost accounting,
 * handles, pinning, release order and deferral, failure atomicity) is as
 * without the flag; sc_cache_clear() and sc_cache_destroy() release oldest
 * first. On skewed workloads SIEVE misses less often than LRU (see
 * Documentation/cache.rst for measured miss ratios); where Qt's exact
 * "least recently used goes first" order matters, leave it off: exact LRU
 * is the default.
 */
#define SC_CACHE_POLICY_SIEVE 0x2u

/**
 * define SC_CACHE_POLICY_S3FIFO - Evict by S3FIFO, with admission.
 *
 * Opt-in eviction policy (Yang et al., "FIFO queues are all you need for
 * cache eviction", SOSP '23) for the best hit ratio per byte on skewed and
 * scan-heavy workloads. Entries live on one of two FIFO queues: a small
 * one that new keys enter, and a main one for keys that proved
 * themselves. A hit (sc_cache_find(), sc_cache_find_key(), sc_cache_get(),
 * sc_cache_get_key()) adds one to a 3-bit counter in the entry (nothing
 * once it is at 7) and moves nothing. Eviction takes the small queue's
 * oldest entry while the main queue is within its share: an entry hit
 * twice or more moves to the main queue instead, one hit less goes. The
 * main queue's oldest entry goes back to its new end with one hit less
 * until one with no hit is found. Evicted keys are remembered in a ghost
 * (32 bits each, about 2 bytes per entry of a full cache) with the queue
 * they left. A new key the ghost remembers goes straight to the main
 * queue, and moves the small queue's share (a tenth of the limit at
 * first, at most half) towards the queue it left, as ARC adapts its
 * target. Every eviction follows this order: by the limit (insert,
 * add, replace), sc_cache_set_limit(), sc_cache_shrink(), shrinkers and
 * sc_cache_age(); sc_cache_clear() and sc_cache_destroy() release the
 * small queue then the main one, oldest first.
 *
 * Admission: sc_cache_insert() of a new key that costs more than a tenth
 * of the limit, that the ghost does not remember, into a cache at least
 * half full, stores nothing and returns %SC_CACHE_NOT_ADMITTED; the key
 * is remembered, so the same insert soon after is stored. An update of an
 * existing key, sc_cache_add() and sc_cache_replace() are never refused.
 * Documentation/cache.rst has the measured hit ratios and the rules.
 */
#define SC_CACHE_POLICY_S3FIFO 0x4u

/**
 * define SC_CACHE_NOT_ADMITTED - sc_cache_insert() refused a new value.
 *
 * Returned only by a cache created with %SC_CACHE_POLICY_S3FIFO, only for
 * a key not in the cache whose cost is above a tenth of the limit: the
 * value was **not taken** (the caller still owns it and frees it; the
 * release callback is not called for it), and nothing changed but the
 * policy's memory of the key, so that the same insert is stored if it
 * comes again soon. Positive, so callers that test for a negative error
 * treat it as stored: an S3-FIFO caller must free the value on any
 * non-zero result. Not counted as an insert nor as an insert failure.
 */
#define SC_CACHE_NOT_ADMITTED 1

/**
 * sc_cache_create() - Create a cache.
 * @cfg: Configuration, or NULL for all defaults.
 *
 * Context: Any thread.
 * Return: The cache, or NULL with errno %EINVAL (unknown flags, or two
 * policies) or %ENOMEM.
 */
SC_API struct sc_cache *sc_cache_create(const struct sc_cache_config *cfg);

/**
 * sc_cache_destroy() - Destroy a cache, releasing every value.
 * @c: Cache, or NULL (no-op).
 *
 * Values of pinned entries are released at their last sc_entry_put(),
 * which stays valid after the cache is gone.
 *
 * Context: Any thread; no other thread may use @c during or after the call.
 */
SC_API void sc_cache_destroy(struct sc_cache *c);

/**
 * sc_cache_insert() - Insert a value under a string key.
 * @c: Cache.
 * @key: NUL-terminated key, 1 to 65535 bytes; copied.
 * @value: Value to store, not NULL; owned by the cache on success.
 * @cost: Cost in bytes counted against the limit; 0 is allowed.
 *
 * Any value already under @key is released, its cost given back before
 * anything is evicted. Least recently used entries (the policy's order
 * with %SC_CACHE_POLICY_SIEVE or %SC_CACHE_POLICY_S3FIFO) are then
 * evicted until the new one fits. The new entry is the most recently
 * used.
 *
 * Context: Any thread. Takes and releases the cache lock; runs
 * ops->release without it.
 * Return:
 * * %0 - stored.
 * * %SC_CACHE_NOT_ADMITTED - only with %SC_CACHE_POLICY_S3FIFO: a new key
 *   above a tenth of the limit, refused; @value not taken.
 * * %-EINVAL - @c, @key or @value NULL, or @key empty.
 * * %-ENAMETOOLONG - @key longer than 65535 bytes.
 * * %-EFBIG - @cost exceeds the limit; @value not taken, any entry under
 *   @key removed.
 * * %-EOVERFLOW - @cost would overflow the total.
 * * %-ENOMEM - out of memory; nothing changed.
 */
SC_API int sc_cache_insert(struct sc_cache *c, const char *key, void *value,
			   size_t cost);

/**
 * sc_cache_find() - Look a value up by string key.
 * @c: Cache.
 * @key: NUL-terminated key.
 *
 * A hit makes the entry the most recently used. The pointer is borrowed
 * until the next call on @c that can evict; threads sharing a cache use
 * sc_cache_get().
 *
 * Context: Any thread. Takes no lock: the hit is logged in the calling
 * thread's hit log and applied to the LRU order before the next call that
 * evicts (Documentation/concurrency.rst).
 * Return: The value, or NULL with errno %ENOENT (absent) or %EINVAL.
 */
SC_API void *sc_cache_find(struct sc_cache *c, const char *key);

/**
 * sc_cache_contains() - Tell whether a string key is in the cache.
 * @c: Cache.
 * @key: NUL-terminated key.
 *
 * Not a use: the eviction order and the hit and miss counts are left
 * alone, as QCache::contains() does.
 *
 * Context: Any thread; takes no lock.
 * Return: true if @key is in @c; false if not, or for a NULL cache or a
 * bad key.
 */
SC_API bool sc_cache_contains(const struct sc_cache *c, const char *key);

/**
 * sc_cache_remove() - Remove the entry under a string key.
 * @c: Cache.
 * @key: NUL-terminated key.
 *
 * Context: Any thread; runs ops->release without the cache lock.
 * Return: 0, %-ENOENT if absent, %-EINVAL for a NULL argument or bad key.
 */
SC_API int sc_cache_remove(struct sc_cache *c, const char *key);

/**
 * sc_cache_add() - Store a value under a new handle key.
 * @c: Cache.
 * @value: Value to store, not NULL; owned by the cache on success.
 * @cost: Cost in bytes.
 *
 * Context: Any thread; runs ops->release (of evicted values) without the
 * cache lock.
 * Return: The handle, or %SC_KEY_NONE with errno %EINVAL, %EFBIG,
 * %EOVERFLOW or %ENOMEM; on failure nothing changed.
 */
SC_API sc_key_t sc_cache_add(struct sc_cache *c, void *value, size_t cost);

/**
 * sc_cache_find_key() - Look a value up by handle key.
 * @c: Cache.
 * @key: Handle from sc_cache_add() on @c.
 *
 * Context: Any thread.
 * Return: The value (now most recently used), or NULL with errno %ENOENT
 * for an invalid or stale handle, %EINVAL for a NULL cache.
 */
SC_API void *sc_cache_find_key(struct sc_cache *c, sc_key_t key);

/**
 * sc_cache_replace() - Put a new value under a valid handle.
 * @c: Cache.
 * @key: Valid handle.
 * @value: New value, not NULL.
 * @cost: Its cost.
 *
 * The old value is released; the handle stays valid, now most recently
 * used.
 *
 * Context: Any thread; runs ops->release without the cache lock.
 * Return: 0; %-ENOENT for an invalid handle; %-EINVAL; %-EFBIG if @cost
 * exceeds the limit (the new value is not taken and the entry is removed,
 * invalidating @key); %-EOVERFLOW; %-ENOMEM.
 */
SC_API int sc_cache_replace(struct sc_cache *c, sc_key_t key, void *value,
			    size_t cost);

/**
 * sc_cache_remove_key() - Remove the entry under a handle.
 * @c: Cache.
 * @key: Handle.
 *
 * Context: Any thread; runs ops->release without the cache lock.
 * Return: 0, %-ENOENT for an invalid handle, %-EINVAL for a NULL cache.
 */
SC_API int sc_cache_remove_key(struct sc_cache *c, sc_key_t key);

/**
 * sc_cache_key_valid() - Tell whether a handle still refers to an entry.
 * @c: Cache.
 * @key: Handle.
 *
 * Not a use: the LRU order is left alone.
 *
 * Context: Any thread.
 * Return: true while the handle's entry is in @c.
 */
SC_API bool sc_cache_key_valid(const struct sc_cache *c, sc_key_t key);

/**
 * sc_cache_get() - Look up by string key and pin the entry.
 * @c: Cache.
 * @key: NUL-terminated key.
 *
 * The value stays alive until sc_entry_put(), even if the entry is evicted
 * meanwhile (its cost then stops counting against the limit).
 *
 * Context: Any thread.
 * Return: The entry with a reference taken, or NULL with errno %ENOENT or
 * %EINVAL.
 */
SC_API struct sc_entry *sc_cache_get(struct sc_cache *c, const char *key);

/**
 * sc_cache_get_key() - Look up by handle and pin the entry.
 * @c: Cache.
 * @key: Handle.
 *
 * Context: Any thread.
 * Return: The entry with a reference taken, or NULL with errno %ENOENT or
 * %EINVAL.
 */
SC_API struct sc_entry *sc_cache_get_key(struct sc_cache *c, sc_key_t key);

/**
 * sc_entry_value() - The value of a pinned entry.
 * @e: Entry from sc_cache_get() or sc_cache_get_key().
 *
 * Context: Any thread holding a reference on @e.
 * Return: The value, or NULL if @e is NULL.
 */
SC_API void *sc_entry_value(const struct sc_entry *e);

/**
 * sc_entry_cost() - The cost of a pinned entry.
 * @e: Entry.
 *
 * Context: Any thread holding a reference on @e.
 * Return: The cost, or 0 if @e is NULL.
 */
SC_API size_t sc_entry_cost(const struct sc_entry *e);

/**
 * sc_entry_string_key() - The string key of a pinned entry.
 * @e: Entry from sc_cache_get(), sc_cache_get_key() or sc_cache_scan().
 * @len: Set to the key's length in bytes (0 for a handle entry); may be
 *       NULL.
 *
 * The key as the cache stores it: the bytes given to sc_cache_insert(),
 * **not NUL-terminated**. A caller that keeps its own copy of the key
 * beside the value can read it here instead, and an sc_cache_scan()
 * caller learns which key each entry is under.
 *
 * Context: Any thread holding a reference on @e; the bytes stay valid
 * until that reference is put.
 * Return: The key's first byte, or NULL for a handle entry (from
 * sc_cache_add() or sc_cache_replace()) or a NULL @e.
 */
SC_API const char *sc_entry_string_key(const struct sc_entry *e, size_t *len);

/**
 * sc_entry_put() - Drop a reference taken by a get.
 * @e: Entry, or NULL (no-op).
 *
 * If the entry was evicted meanwhile and this was the last reference, the
 * value is released here.
 *
 * Context: Any thread; runs ops->release without the cache lock.
 */
SC_API void sc_entry_put(struct sc_entry *e);

/**
 * sc_cache_set_limit() - Change the total cost limit.
 * @c: Cache.
 * @limit: New limit in bytes; 0 evicts everything, zero-cost entries
 *         too (afterwards only zero-cost values fit).
 *
 * Least recently used entries are evicted at once until the total fits.
 *
 * Context: Any thread; runs ops->release without the cache lock.
 * Return: 0, or %-EINVAL for a NULL cache.
 */
SC_API int sc_cache_set_limit(struct sc_cache *c, size_t limit);

/**
 * sc_cache_limit() - The total cost limit.
 * @c: Cache.
 *
 * Context: Any thread.
 * Return: The limit, or 0 for a NULL cache.
 */
SC_API size_t sc_cache_limit(const struct sc_cache *c);

/**
 * sc_cache_total_cost() - The sum of the costs of the entries held.
 * @c: Cache.
 *
 * Context: Any thread.
 * Return: The total, or 0 for a NULL cache.
 */
SC_API size_t sc_cache_total_cost(const struct sc_cache *c);

/**
 * sc_cache_count() - The number of entries held.
 * @c: Cache.
 *
 * Context: Any thread.
 * Return: The count, or 0 for a NULL cache.
 */
SC_API size_t sc_cache_count(const struct sc_cache *c);

/**
 * sc_cache_clear() - Remove every entry and invalidate every handle.
 * @c: Cache, or NULL (no-op).
 *
 * Context: Any thread; runs ops->release without the cache lock.
 */
SC_API void sc_cache_clear(struct sc_cache *c);

/**
 * sc_cache_shrink() - Evict least recently used entries.
 * @c: Cache.
 * @nr_to_scan: Most entries to evict.
 *
 * Context: Any thread; runs ops->release without the cache lock.
 * Return: Entries evicted (0 for a NULL cache).
 */
SC_API unsigned long sc_cache_shrink(struct sc_cache *c,
				     unsigned long nr_to_scan);

/**
 * sc_cache_age() - One step of QPixmapCache's idle flush.
 * @c: Cache.
 *
 * If the total cost has not changed since the previous step (0 before
 * the first), evict least recently used entries down to 3/4 of the total,
 * at least one; otherwise evict the single least recently used entry.
 * Call it from a timer (Qt: every 30 s, every 10 s once idle); an idle
 * cache drains to empty, zero-cost entries included.
 *
 * Context: Any thread; runs ops->release without the cache lock.
 * Return: Entries evicted.
 */
SC_API unsigned long sc_cache_age(struct sc_cache *c);

/**
 * struct sc_cache_cursor - Where a walk with sc_cache_scan() stands.
 * @pos: Private: the next scan key, or handle slot.
 * @phase: Private: string entries, handle entries, or done.
 *
 * Start a walk with a zeroed cursor (%SC_CACHE_CURSOR_INIT); only
 * sc_cache_scan() changes it. A cursor is plain data: copy it, keep it
 * between calls as long as needed, or drop it; nothing is held.
 */
struct sc_cache_cursor {
	uint64_t pos;
	unsigned int phase;
};

/* a cursor at the start of a walk */
#define SC_CACHE_CURSOR_INIT \
	{                    \
		0, 0         \
	}

/**
 * sc_cache_scan() - Walk a cache's entries, a batch at a time.
 * @c: Cache.
 * @cur: Where the walk stands; moved past the entries returned.
 * @entries: Filled with up to @max entries, each pinned: call
 *           sc_entry_put() on every one (sc_entry_value() and
 *           sc_entry_string_key() read them meanwhile).
 * @max: Room in @entries, at least 1.
 *
 * Calls from a zeroed cursor until one returns 0 walk every entry: the
 * string entries first (in an order of their keys' hashes: no order a
 * caller can use), then the handle entries. The cache may change between
 * calls, from any thread, even through the returned entries: every entry
 * in the cache from the first call to the last is returned exactly once,
 * whatever was inserted, removed, evicted or resized meanwhile; an entry
 * inserted or removed during the walk may or may not be returned, and a
 * key whose value was replaced during the walk is returned once, with
 * either value. (The one exception: if more than @max string keys share
 * one 64-bit hash, those that do not fit in one call are skipped. With
 * the cache's seeded 64-bit hash that takes a hash collision among at
 * least @max + 1 keys; for @max of 2 or more it is not a practical
 * concern.)
 *
 * Not a use: the eviction order and the hit and miss counts are left
 * alone. Entries are pinned, so a value stays valid after it is evicted
 * until its entry is put; a pinned entry that is evicted no longer
 * counts against the limit.
 *
 * Context: Any thread. Takes the cache lock for the call, during which
 * it reads about @max entries' index slots (more when the index is
 * sparse: up to all of it, to find one entry) and no other thread writes
 * the cache; runs no user code and allocates nothing.
 * Return: The number of entries stored in @entries, 1 to @max; 0 when the
 * walk is complete (every later call returns 0 too);
 * %-EINVAL for a NULL argument, @max 0 or a cursor sc_cache_scan() did
 * not make; %-EOVERFLOW if an entry's reference count is at its limit
 * (nothing is pinned and the cursor does not move: try again once
 * references have been put).
 */
SC_API int sc_cache_scan(struct sc_cache *c, struct sc_cache_cursor *cur,
			 struct sc_entry **entries, unsigned int max);

/**
 * struct sc_cache_stats - A cache's counters.
 * @hits: Finds and gets that found their entry.
 * @misses: Finds and gets that did not.
 * @inserts: Successful inserts and adds.
 * @replaces: Values replaced (by replace, or insert over an existing key).
 * @removes: Entries removed by remove and remove_key.
 * @evictions: Entries evicted by the limit (insert, set_limit, age).
 * @shrunk: Entries evicted by shrinkers and sc_cache_shrink().
 * @insert_failures: Inserts, adds and replaces on a valid cache that
 *                   failed, for any reason (%EINVAL included).
 * @count: Entries held.
 * @total_cost: Sum of their costs.
 * @limit: Cost limit.
 * @key_slots: Capacity of the key array.
 * @pinned: Evicted entries still referenced.
 */
struct sc_cache_stats {
	unsigned long long hits, misses, inserts, replaces, removes;
	unsigned long long evictions;
	unsigned long long shrunk;
	unsigned long long insert_failures;
	size_t count, total_cost, limit;
	size_t key_slots;
	size_t pinned;
};

/**
 * sc_cache_stats() - Read a cache's counters.
 * @c: Cache.
 * @st: Filled on success.
 *
 * Context: Any thread.
 * Return: 0, or %-EINVAL for a NULL argument.
 */
SC_API int sc_cache_stats(const struct sc_cache *c, struct sc_cache_stats *st);

/**
 * sc_cache_memory() - Bytes of library memory a cache holds.
 * @c: Cache.
 *
 * Counts whole slabs of the cache's entry and key slab caches (partly used
 * and empty ones too), its index and key array, and the cache itself;
 * values are the caller's and not counted. Divide by sc_cache_count() for
 * the library's memory per entry.
 *
 * Context: Any thread.
 * Return: The bytes, or 0 for a NULL cache.
 */
SC_API size_t sc_cache_memory(const struct sc_cache *c);

/**
 * sc_cache_entry_memory() - Bytes of library memory one entry holds.
 * @c: Cache.
 * @key_len: Length of the entry's string key, or 0 for a handle entry.
 *
 * The slab slot of the entry (and of its key when the key is too long to
 * sit inside the entry), plus its share of the index at the index's mean
 * load (a handle entry: its key array slot), and with
 * %SC_CACHE_POLICY_S3FIFO its share of the ghost (4 bytes), for an entry
 * whose cost is below 65535 (sc_cache_entry_memory_cost() counts the 8
 * bytes more of a higher cost). A caller whose limit must
 * bound all the memory its values cost, library memory included, adds
 * this to each value's cost: summed over the entries, it comes within the
 * index's load swing (3/8 to 3/4) of what sc_cache_memory() reports.
 *
 * Context: Any thread.
 * Return: The bytes, or 0 for a NULL cache or a key longer than 65535
 * bytes.
 */
SC_API size_t sc_cache_entry_memory(const struct sc_cache *c, size_t key_len);

/**
 * sc_cache_entry_memory_cost() - Bytes of library memory an entry of a
 * given cost holds.
 * @c: Cache.
 * @key_len: Length of the entry's string key, or 0 for a handle entry.
 * @cost: The entry's cost.
 *
 * As sc_cache_entry_memory(), which it equals for a cost below 65535. An
 * entry whose cost is 65535 or more keeps it in 8 more bytes of its own
 * slab slot, which this counts. A caller that adds the entry's memory to
 * a value's cost charges exactly by passing the cost with
 * sc_cache_entry_memory() added: if that is below 65535 the entry keeps
 * it in its header, and if not, 8 more bytes keep it at 65535 or more.
 *
 * Context: Any thread.
 * Return: The bytes, or 0 for a NULL cache or a key longer than 65535
 * bytes.
 */
SC_API size_t sc_cache_entry_memory_cost(const struct sc_cache *c,
					 size_t key_len, size_t cost);

#ifdef __cplusplus
}
#endif

#endif /* SLABCACHE_CACHE_H */
