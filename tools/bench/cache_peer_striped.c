// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Peer: the uthash + utlist LRU of cache_peer_uthash.c striped 64 ways,
 * as a careful C programmer makes a cache scale with threads: 64 stripes,
 * each with its own pthread mutex, uthash table, utlist LRU, total cost
 * and a limit of limit/64 (rounded up, so that the stripes hold at least
 * the limit between them). Each stripe sits on its own cache lines.
 *
 * The key's Jenkins hash (uthash's default) is computed once, outside any
 * lock: its top 6 bits choose the stripe, and the table takes the same
 * value through HASH_FIND_BYHASHVALUE/HASH_ADD_KEYPTR_BYHASHVALUE (uthash
 * picks buckets by the low bits, so the two do not correlate). Entries are
 * allocated before the stripe lock is taken, and entries evicted or
 * replaced are freed after it is dropped, so a critical section holds
 * only table and list work.
 *
 * Not exact LRU over the whole cache: a stripe evicts its own least
 * recently used entry when it is full, even if another stripe holds older
 * ones, so at limit N it keeps somewhat fewer than N keys.
 *
 * Thread-safe by itself: no bench mutex around it. Lock order: one stripe
 * lock at a time; clear and count take them one after another.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>
#include <utlist.h>

#include "cache_peers.h"

#define NR_STRIPES 64
#define STRIPE_SHIFT 26 /* top 6 bits of uthash's 32-bit hash */

struct st_entry {
	UT_hash_handle hh;
	struct st_entry *prev, *next;
	void *value;
	size_t cost;
	char key[];
};

struct stripe {
	_Alignas(64) pthread_mutex_t lock;
	struct st_entry *table;
	struct st_entry *lru; /* head: most recently used */
	size_t total, limit;
};

struct st_cache {
	struct stripe stripes[NR_STRIPES];
};

static unsigned int st_hash(const char *key, size_t len)
{
	unsigned int hashv;

	HASH_VALUE(key, len, hashv);
	return hashv;
}

static struct stripe *st_stripe(struct st_cache *c, unsigned int hashv)
{
	return &c->stripes[hashv >> STRIPE_SHIFT];
}

static void *st_create(size_t limit)
{
	struct st_cache *c = aligned_alloc(64, sizeof(*c));

	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < NR_STRIPES; i++) {
		pthread_mutex_init(&c->stripes[i].lock, NULL);
		c->stripes[i].limit = (limit + NR_STRIPES - 1) / NR_STRIPES;
	}
	return c;
}

/* Unlink @e from its stripe (lock held); the caller frees it unlocked. */
static void st_unlink_locked(struct stripe *s, struct st_entry *e)
{
	HASH_DEL(s->table, e);
	DL_DELETE(s->lru, e);
	s->total -= e->cost;
}

/* Free a chain of unlinked entries, linked through ->next. */
static void st_free_chain(struct st_entry *e)
{
	while (e) {
		struct st_entry *next = e->next;

		free(e);
		e = next;
	}
}

static void st_clear(void *cache)
{
	struct st_cache *c = cache;

	for (int i = 0; i < NR_STRIPES; i++) {
		struct stripe *s = &c->stripes[i];
		struct st_entry *e, *tmp, *dead = NULL;

		pthread_mutex_lock(&s->lock);
		HASH_ITER(hh, s->table, e, tmp)
		{
			HASH_DEL(s->table, e);
			e->next = dead;
			dead = e;
		}
		s->lru = NULL;
		s->total = 0;
		pthread_mutex_unlock(&s->lock);
		st_free_chain(dead);
	}
}

static void st_destroy(void *cache)
{
	struct st_cache *c = cache;

	st_clear(c);
	for (int i = 0; i < NR_STRIPES; i++)
		pthread_mutex_destroy(&c->stripes[i].lock);
	free(c);
}

static bool st_insert(struct st_cache *c, const char *key, size_t len,
		      size_t cost)
{
	unsigned int hashv = st_hash(key, len);
	struct stripe *s = st_stripe(c, hashv);
	struct st_entry *e = malloc(sizeof(*e) + len + 1), *old, *dead = NULL;

	if (!e)
		return false;
	memcpy(e->key, key, len + 1);
	e->value = bench_cache_value;
	e->cost = cost;

	pthread_mutex_lock(&s->lock);
	HASH_FIND_BYHASHVALUE(hh, s->table, key, len, hashv, old);
	if (old) {
		st_unlink_locked(s, old);
		old->next = dead;
		dead = old;
	}
	if (cost > s->limit) {
		pthread_mutex_unlock(&s->lock);
		st_free_chain(dead);
		free(e);
		return false;
	}
	while (s->lru && s->total + cost > s->limit) {
		struct st_entry *victim = s->lru->prev;

		st_unlink_locked(s, victim);
		victim->next = dead;
		dead = victim;
	}
	HASH_ADD_KEYPTR_BYHASHVALUE(hh, s->table, e->key, len, hashv, e);
	DL_PREPEND(s->lru, e);
	s->total += cost;
	pthread_mutex_unlock(&s->lock);
	st_free_chain(dead);
	return true;
}

static bool st_find(void *cache, const char *key, size_t len)
{
	struct st_cache *c = cache;
	unsigned int hashv = st_hash(key, len);
	struct stripe *s = st_stripe(c, hashv);
	struct st_entry *e;
	bool hit = false;

	pthread_mutex_lock(&s->lock);
	HASH_FIND_BYHASHVALUE(hh, s->table, key, len, hashv, e);
	if (e) {
		if (s->lru != e) {
			DL_DELETE(s->lru, e);
			DL_PREPEND(s->lru, e);
		}
		hit = e->value != NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return hit;
}

static bool st_remove(struct st_cache *c, const char *key, size_t len)
{
	unsigned int hashv = st_hash(key, len);
	struct stripe *s = st_stripe(c, hashv);
	struct st_entry *e;
	bool found;

	pthread_mutex_lock(&s->lock);
	HASH_FIND_BYHASHVALUE(hh, s->table, key, len, hashv, e);
	found = e != NULL;
	if (found)
		st_unlink_locked(s, e);
	pthread_mutex_unlock(&s->lock);
	free(e);
	return found;
}

CACHE_PEER_BATCH(st_insert_batch, st_insert(c, key, len, 1))

CACHE_PEER_BATCH(st_find_batch, st_find(c, key, len))

CACHE_PEER_BATCH(st_remove_batch, st_remove(c, key, len))

static bool st_get_or_insert_one(void *c, const char *key, size_t len)
{
	if (st_find(c, key, len))
		return true;
	st_insert(c, key, len, 1);
	return false;
}

CACHE_PEER_BATCH(st_get_or_insert_batch, st_get_or_insert_one(c, key, len))

static size_t st_count(void *cache)
{
	struct st_cache *c = cache;
	size_t count = 0;

	for (int i = 0; i < NR_STRIPES; i++) {
		pthread_mutex_lock(&c->stripes[i].lock);
		count += HASH_COUNT(c->stripes[i].table);
		pthread_mutex_unlock(&c->stripes[i].lock);
	}
	return count;
}

const struct cache_peer cache_peer_striped = {
	.name = "64-way striped uthash+utlist",
	.thread_safe = true,
	.inexact = true,
	.create = st_create,
	.destroy = st_destroy,
	.insert_batch = st_insert_batch,
	.find_batch = st_find_batch,
	.remove_batch = st_remove_batch,
	.get_or_insert_batch = st_get_or_insert_batch,
	.find_one = st_find,
	.get_or_insert_one = st_get_or_insert_one,
	.get_one_mt = st_find,
	.get_or_insert_one_mt = st_get_or_insert_one,
	.clear = st_clear,
	.count = st_count,
};
