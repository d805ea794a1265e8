// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Peer, as a ceiling for lookups: liburcu's lock-free resizable hash table
 * (cds_lfht, Debian liburcu-dev) read under RCU. No limit, no LRU, no
 * eviction: it runs the fill and the lookup phases only, and shows what a
 * lookup that writes nothing shared costs on this machine.
 *
 * RCU flavour: urcu-memb. Its read side is a thread-local counter store
 * and compiler barriers (the writer's synchronize_rcu() makes the other
 * CPUs fence through membarrier(2)), and it asks nothing of the threads
 * but registration. That is the flavour a library embedded in someone
 * else's daemon can use, so this ceiling is one an RCU design of the
 * cache can reach. urcu-qsbr's read side is free, but every reader thread
 * must announce quiescent states itself, which a library cannot ask of its
 * callers' threads. _LGPL_SOURCE inlines the read-side primitives (liburcu
 * is LGPL-2.1, as is this program).
 *
 * The table is created with its bucket count at the next power of two
 * above the limit, so the fill never resizes it (no CDS_LFHT_AUTO_RESIZE,
 * so no call_rcu thread either). Entries hold the key inline. The hash
 * reads the key in 8-byte words (the last one overlapping), never through
 * a partly written temporary, and ends with murmur3's fmix64.
 *
 * Threads: every thread that calls in must be registered with urcu-memb:
 * the creating thread registers on first use, the bench's workers through
 * thread_enter/thread_exit. Removal (clear, remove, destroy) unlinks under
 * the read lock, waits for one grace period, then frees.
 */
#define _LGPL_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#include "cache_peers.h"

struct lf_entry {
	struct cds_lfht_node node;
	void *value;
	size_t len;
	char key[];
};

struct lf_cache {
	struct cds_lfht *ht;
	size_t count;
};

struct lf_key {
	const char *key;
	size_t len;
};

static __thread bool lf_registered;

static void lf_thread_enter(void)
{
	if (!lf_registered) {
		urcu_memb_register_thread();
		lf_registered = true;
	}
}

static void lf_thread_exit(void)
{
	if (lf_registered) {
		urcu_memb_unregister_thread();
		lf_registered = false;
	}
}

static inline uint64_t lf_fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline unsigned long lf_hash(const char *k, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;
	size_t i = 0;

	if (len < 8) {
		for (; i < len; i++)
			h = (h ^ (unsigned char)k[i]) * 0x100000001b3ULL;
		return (unsigned long)lf_fmix64(h);
	}
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, k + i, 8);
		h = (h ^ w) * 0x87c37b91114253d5ULL;
		h ^= h >> 31;
	}
	if (i < len) {
		memcpy(&w, k + len - 8, 8);
		h = (h ^ w) * 0x87c37b91114253d5ULL;
	}
	return (unsigned long)lf_fmix64(h);
}

static int lf_match(struct cds_lfht_node *node, const void *key)
{
	const struct lf_entry *e =
		caa_container_of(node, struct lf_entry, node);
	const struct lf_key *k = key;

	return e->len == k->len && !memcmp(e->key, k->key, k->len);
}

static void *lf_create(size_t limit)
{
	struct lf_cache *c = calloc(1, sizeof(*c));
	unsigned long buckets = 1;

	if (!c)
		return NULL;
	lf_thread_enter();
	while (buckets < limit)
		buckets <<= 1;
	c->ht = cds_lfht_new_flavor(buckets, buckets, 0, 0, &urcu_memb_flavor,
				    NULL);
	if (!c->ht) {
		free(c);
		return NULL;
	}
	return c;
}

/* Unlink every entry, wait for a grace period, free them. */
static void lf_clear(void *cache)
{
	struct lf_cache *c = cache;
	struct lf_entry **dead = malloc((c->count + 1) * sizeof(*dead)), *e;
	struct cds_lfht_iter iter;
	size_t n = 0;

	if (!dead)
		return;
	urcu_memb_read_lock();
	cds_lfht_for_each_entry(c->ht, &iter, e, node)
	{
		if (n <= c->count && !cds_lfht_del(c->ht, &e->node))
			dead[n++] = e;
	}
	urcu_memb_read_unlock();
	urcu_memb_synchronize_rcu();
	for (size_t i = 0; i < n; i++)
		free(dead[i]);
	c->count -= n;
	free(dead);
}

static void lf_destroy(void *cache)
{
	struct lf_cache *c = cache;

	lf_clear(c);
	cds_lfht_destroy(c->ht, NULL);
	free(c);
}

static bool lf_insert(struct lf_cache *c, const char *key, size_t len)
{
	struct lf_entry *e = malloc(sizeof(*e) + len + 1);
	struct lf_key k = { key, len };
	struct cds_lfht_node *got;

	if (!e)
		return false;
	cds_lfht_node_init(&e->node);
	e->value = bench_cache_value;
	e->len = len;
	memcpy(e->key, key, len + 1);
	urcu_memb_read_lock();
	got = cds_lfht_add_unique(c->ht, lf_hash(key, len), lf_match, &k,
				  &e->node);
	urcu_memb_read_unlock();
	if (got != &e->node) {
		free(e);
		return false;
	}
	c->count++;
	return true;
}

static inline bool lf_find(void *cache, const char *key, size_t len)
{
	struct lf_cache *c = cache;
	struct lf_key k = { key, len };
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	bool hit = false;

	urcu_memb_read_lock();
	cds_lfht_lookup(c->ht, lf_hash(key, len), lf_match, &k, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node)
		hit = caa_container_of(node, struct lf_entry, node)->value !=
		      NULL;
	urcu_memb_read_unlock();
	return hit;
}

CACHE_PEER_BATCH(lf_insert_batch, lf_insert(c, key, len))

CACHE_PEER_BATCH(lf_find_batch, lf_find(c, key, len))

static size_t lf_remove_batch(void *cache, const char *reqs, size_t slot,
			      size_t n)
{
	struct lf_cache *c = cache;
	struct lf_entry **dead = malloc((n + 1) * sizeof(*dead));
	size_t removed = 0;

	if (!dead)
		return 0;
	urcu_memb_read_lock();
	for (size_t i = 0; i < n; i++) {
		struct lf_key k = { reqs + i * slot, slot - 1 };
		struct cds_lfht_iter iter;
		struct cds_lfht_node *node;

		cds_lfht_lookup(c->ht, lf_hash(k.key, k.len), lf_match, &k,
				&iter);
		node = cds_lfht_iter_get_node(&iter);
		if (node && !cds_lfht_del(c->ht, node))
			dead[removed++] =
				caa_container_of(node, struct lf_entry, node);
	}
	urcu_memb_read_unlock();
	urcu_memb_synchronize_rcu();
	for (size_t i = 0; i < removed; i++)
		free(dead[i]);
	free(dead);
	c->count -= removed;
	return removed;
}

static size_t lf_count(void *cache)
{
	return ((struct lf_cache *)cache)->count;
}

const struct cache_peer cache_peer_lfht = {
	.name = "cds_lfht urcu-memb (lookups only)",
	.thread_safe = true,
	.lookups_only = true,
	.create = lf_create,
	.destroy = lf_destroy,
	.insert_batch = lf_insert_batch,
	.find_batch = lf_find_batch,
	.remove_batch = lf_remove_batch,
	.find_one = lf_find,
	.get_one_mt = lf_find,
	.clear = lf_clear,
	.count = lf_count,
	.thread_enter = lf_thread_enter,
	.thread_exit = lf_thread_exit,
};
