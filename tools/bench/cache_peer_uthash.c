// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Peer: a hand-written LRU over uthash + utlist (Debian uthash-dev), as a
 * C programmer would write one. One malloc per entry with the key in a
 * flexible array member, HASH_FIND/HASH_ADD_KEYPTR with uthash's default
 * Jenkins hash, utlist DL_DELETE/DL_PREPEND for the LRU (head = most
 * recently used, head->prev = least). Not thread-safe: the threaded phases
 * wrap it in a mutex.
 *
 * Also the bench's exact-LRU model of what every peer must keep: with cost
 * 1 and limit N it holds exactly the N most recently used keys.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>
#include <utlist.h>

#include "cache_peers.h"

struct uth_entry {
	UT_hash_handle hh;
	struct uth_entry *prev, *next;
	void *value;
	size_t cost;
	char key[];
};

struct uth_cache {
	struct uth_entry *table;
	struct uth_entry *lru;
	size_t total, limit;
};

static void *uth_create(size_t limit)
{
	struct uth_cache *c = calloc(1, sizeof(*c));

	if (c)
		c->limit = limit;
	return c;
}

static void uth_unlink_free(struct uth_cache *c, struct uth_entry *e)
{
	HASH_DEL(c->table, e);
	DL_DELETE(c->lru, e);
	c->total -= e->cost;
	free(e);
}

static void uth_clear(void *cache)
{
	struct uth_cache *c = cache;
	struct uth_entry *e, *tmp;

	HASH_ITER(hh, c->table, e, tmp)
	{
		HASH_DEL(c->table, e);
		free(e);
	}
	c->lru = NULL;
	c->total = 0;
}

static void uth_destroy(void *cache)
{
	uth_clear(cache);
	free(cache);
}

static bool uth_insert(struct uth_cache *c, const char *key, size_t len,
		       size_t cost)
{
	struct uth_entry *e;

	HASH_FIND(hh, c->table, key, len, e);
	if (e)
		uth_unlink_free(c, e);
	if (cost > c->limit)
		return false;
	while (c->lru && c->total + cost > c->limit)
		uth_unlink_free(c, c->lru->prev);
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return false;
	memcpy(e->key, key, len + 1);
	e->value = bench_cache_value;
	e->cost = cost;
	HASH_ADD_KEYPTR(hh, c->table, e->key, len, e);
	DL_PREPEND(c->lru, e);
	c->total += cost;
	return true;
}

static inline bool uth_find(struct uth_cache *c, const char *key, size_t len)
{
	struct uth_entry *e;

	HASH_FIND(hh, c->table, key, len, e);
	if (!e)
		return false;
	if (c->lru != e) {
		DL_DELETE(c->lru, e);
		DL_PREPEND(c->lru, e);
	}
	return e->value != NULL;
}

CACHE_PEER_BATCH(uth_insert_batch, uth_insert(c, key, len, 1))

CACHE_PEER_BATCH(uth_find_batch, uth_find(c, key, len))

static size_t uth_remove_batch(void *cache, const char *reqs, size_t slot,
			       size_t n)
{
	struct uth_cache *c = cache;
	size_t hits = 0;

	for (size_t i = 0; i < n; i++) {
		struct uth_entry *e;

		HASH_FIND(hh, c->table, reqs + i * slot, slot - 1, e);
		if (e) {
			uth_unlink_free(c, e);
			hits++;
		}
	}
	return hits;
}

static bool uth_find_one(void *c, const char *key, size_t len)
{
	return uth_find(c, key, len);
}

static bool uth_get_or_insert_one(void *c, const char *key, size_t len)
{
	if (uth_find(c, key, len))
		return true;
	uth_insert(c, key, len, 1);
	return false;
}

CACHE_PEER_BATCH(uth_get_or_insert_batch, uth_get_or_insert_one(c, key, len))

static size_t uth_count(void *cache)
{
	struct uth_cache *c = cache;

	return HASH_COUNT(c->table);
}

const struct cache_peer cache_peer_uthash = {
	.name = "uthash+utlist",
	.thread_safe = false,
	.create = uth_create,
	.destroy = uth_destroy,
	.insert_batch = uth_insert_batch,
	.find_batch = uth_find_batch,
	.remove_batch = uth_remove_batch,
	.get_or_insert_batch = uth_get_or_insert_batch,
	.find_one = uth_find_one,
	.get_or_insert_one = uth_get_or_insert_one,
	.get_one_mt = uth_find_one,
	.get_or_insert_one_mt = uth_get_or_insert_one,
	.clear = uth_clear,
	.count = uth_count,
};
