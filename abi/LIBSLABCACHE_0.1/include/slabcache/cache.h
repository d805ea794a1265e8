/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slabcache/cache.h as released in 0.1 (LIBSLABCACHE_0.1), comments left out:
 * what programs built against 0.1 saw. Frozen: never edit it
 * (Documentation/abi.rst).
 */
#ifndef SLABCACHE_CACHE_H
#define SLABCACHE_CACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <slabcache/export.h>
#ifdef __cplusplus
extern "C" {
#endif
struct sc_cache;
struct sc_entry;
typedef struct {
	uint64_t id;
} sc_key_t;
#define SC_KEY_NONE ((sc_key_t){ 0 })
#define SC_CACHE_DEFAULT_LIMIT (10240u * 1024u)
struct sc_cache_ops {
	void (*release)(void *value, void *priv);
};
struct sc_cache_config {
	const char *name;
	size_t limit;
	const struct sc_cache_ops *ops;
	void *priv;
	unsigned int flags;
};
#define SC_CACHE_NO_SHRINKER 0x1u
#define SC_CACHE_POLICY_SIEVE 0x2u
SC_API struct sc_cache *sc_cache_create(const struct sc_cache_config *cfg);
SC_API void sc_cache_destroy(struct sc_cache *c);
SC_API int sc_cache_insert(struct sc_cache *c, const char *key, void *value,
			   size_t cost);
SC_API void *sc_cache_find(struct sc_cache *c, const char *key);
SC_API int sc_cache_remove(struct sc_cache *c, const char *key);
SC_API sc_key_t sc_cache_add(struct sc_cache *c, void *value, size_t cost);
SC_API void *sc_cache_find_key(struct sc_cache *c, sc_key_t key);
SC_API int sc_cache_replace(struct sc_cache *c, sc_key_t key, void *value,
			    size_t cost);
SC_API int sc_cache_remove_key(struct sc_cache *c, sc_key_t key);
SC_API bool sc_cache_key_valid(const struct sc_cache *c, sc_key_t key);
SC_API struct sc_entry *sc_cache_get(struct sc_cache *c, const char *key);
SC_API struct sc_entry *sc_cache_get_key(struct sc_cache *c, sc_key_t key);
SC_API void *sc_entry_value(const struct sc_entry *e);
SC_API size_t sc_entry_cost(const struct sc_entry *e);
SC_API void sc_entry_put(struct sc_entry *e);
SC_API int sc_cache_set_limit(struct sc_cache *c, size_t limit);
SC_API size_t sc_cache_limit(const struct sc_cache *c);
SC_API size_t sc_cache_total_cost(const struct sc_cache *c);
SC_API size_t sc_cache_count(const struct sc_cache *c);
SC_API void sc_cache_clear(struct sc_cache *c);
SC_API unsigned long sc_cache_shrink(struct sc_cache *c,
				     unsigned long nr_to_scan);
SC_API unsigned long sc_cache_age(struct sc_cache *c);
struct sc_cache_stats {
	unsigned long long hits, misses, inserts, replaces, removes;
	unsigned long long evictions;
	unsigned long long shrunk;
	unsigned long long insert_failures;
	size_t count, total_cost, limit;
	size_t key_slots;
	size_t pinned;
};
SC_API int sc_cache_stats(const struct sc_cache *c, struct sc_cache_stats *st);
SC_API size_t sc_cache_memory(const struct sc_cache *c);
SC_API size_t sc_cache_entry_memory(const struct sc_cache *c, size_t key_len);
#ifdef __cplusplus
}
#endif
#endif
