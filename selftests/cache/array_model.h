/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_CACHE_ARRAY_MODEL_H
#define SC_SELFTESTS_CACHE_ARRAY_MODEL_H

/*
 * The reference model of a cache as an array in eviction order, shared by
 * the model test (selftests/cache/model.c) and the model fuzz target
 * (fuzz/cache_model.c): exact LRU (the array in recency order), SIEVE
 * (insertion order, visited flags and an index hand) and S3-FIFO
 * (insertion order, each entry flagged small or main with its frequency,
 * and the ghost's buckets of fingerprints), all from Documentation/
 * policy.rst through s3fifo_spec.h. It keeps what the cache must release,
 * in order, and what pins and handles are out.
 *
 * The includer defines, before including it:
 *   AM_MAX_ENTRIES   entries the model holds at most
 *   AM_LOG_MAX       releases one operation may expect
 *   AM_NR_PINS       pins held at most
 *   AM_NR_HANDLES    handles remembered, live or dead
 *   AM_CHECK(cond, fmt, ...)  its assertion
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "s3fifo_spec.h"
#include <slabcache.h>

struct ment {
	bool handle;
	unsigned int key; /* string key index, or handle index */
	unsigned long val;
	size_t cost;
	bool visited; /* SIEVE */
	bool main; /* S3-FIFO: on M */
	uint8_t freq; /* S3-FIFO */
	uint64_t hash; /* S3-FIFO: the key hash of a string key */
};

/* The most buckets a ghost sized for 2 x AM_MAX_ENTRIES entries has. */
#define AM_GHOST_MAX_BUCKETS                                             \
	((2 * AM_MAX_ENTRIES * S3_GHOST_PCT / 100 + S3_GHOST_WAYS - 1) / \
	 S3_GHOST_WAYS)

/* S3-FIFO's ghost: FIFO rings of fingerprints; a struct copy is a copy. */
struct mghost {
	uint32_t slot[AM_GHOST_MAX_BUCKETS][S3_GHOST_WAYS]; /* fp | 1: left M */
	uint8_t cursor[AM_GHOST_MAX_BUCKETS];
	size_t buckets, sized; /* buckets 0: no ghost */
	uint32_t nr[2]; /* slots of each tag */
};

struct amodel {
	struct ment lru[AM_MAX_ENTRIES]; /* [0] least recently used / oldest */
	size_t n, total, limit, age_cost;
	bool sieve, s3fifo;
	size_t small_max, small_target, main_max; /* S3-FIFO */
	struct mghost ghost;
	long hand; /* SIEVE: next index to examine; -1: the oldest */
	/* expected release order of the current operation */
	unsigned long expect[AM_LOG_MAX];
	size_t nr_expect;
	long ins_at; /* where am_drop() puts a release; -1: at the end */
	/* pins: entry and value; a value dropped while pinned waits */
	struct sc_entry *pin_e[AM_NR_PINS];
	unsigned long pin_val[AM_NR_PINS];
	size_t nr_pins;
	unsigned long dropped_pinned[AM_NR_PINS];
	size_t nr_dropped_pinned;
	/* handles issued, alive or not */
	sc_key_t handles[AM_NR_HANDLES];
	bool handle_alive[AM_NR_HANDLES];
	size_t nr_handles;
	/* S3-FIFO, if log_evicted: the keys evicted, in order */
	bool log_evicted;
	char evicted[AM_LOG_MAX * 8];
	size_t evicted_len;
};

static inline void am_init(struct amodel *m, size_t limit, bool sieve,
			   bool s3fifo)
{
	memset(m, 0, sizeof(*m));
	m->limit = limit;
	m->sieve = sieve;
	m->s3fifo = s3fifo;
	m->hand = -1;
	m->ins_at = -1;
}

static inline size_t am_pins_of(const struct amodel *m, unsigned long val)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nr_pins; i++)
		n += m->pin_val[i] == val;
	return n;
}

/* The cache must release @val next (at ins_at, when that is set). */
static inline void am_expect(struct amodel *m, unsigned long val)
{
	AM_CHECK(m->nr_expect < AM_LOG_MAX, "model release log full");
	if (m->ins_at < 0) {
		m->expect[m->nr_expect++] = val;
		return;
	}
	memmove(&m->expect[m->ins_at + 1], &m->expect[m->ins_at],
		(m->nr_expect - (size_t)m->ins_at) * sizeof(m->expect[0]));
	m->expect[m->ins_at++] = val;
	m->nr_expect++;
}

/* The model lets go of the entry at @i. */
static inline void am_drop(struct amodel *m, size_t i)
{
	struct ment e = m->lru[i];

	memmove(&m->lru[i], &m->lru[i + 1], (m->n - i - 1) * sizeof(e));
	m->n--;
	m->total -= e.cost;
	if (m->hand > (long)i)
		m->hand--;
	else if (m->hand == (long)i && m->hand == (long)m->n)
		m->hand = -1; /* was the newest: wrap */
	if (e.handle)
		m->handle_alive[e.key] = false;
	if (am_pins_of(m, e.val)) {
		AM_CHECK(m->nr_dropped_pinned < AM_NR_PINS,
			 "model: too many dropped pinned values");
		m->dropped_pinned[m->nr_dropped_pinned++] = e.val;
	} else {
		am_expect(m, e.val);
	}
}

/* A hit on the entry at @i. */
static inline void am_touch(struct amodel *m, size_t i)
{
	struct ment e = m->lru[i];

	if (m->s3fifo) {
		if (m->lru[i].freq < S3_FREQ_MAX)
			m->lru[i].freq++;
		return;
	}
	if (m->sieve) {
		m->lru[i].visited = true;
		return;
	}
	memmove(&m->lru[i], &m->lru[i + 1], (m->n - i - 1) * sizeof(e));
	m->lru[m->n - 1] = e;
}

/* @e joins at the newest end, not yet visited. */
static inline void am_add(struct amodel *m, struct ment e)
{
	AM_CHECK(m->n < AM_MAX_ENTRIES, "model full");
	e.visited = false;
	m->lru[m->n++] = e;
	m->total += e.cost;
}

/* The name of an entry in an operation log. */
static inline void am_ment_name(const struct ment *e, char *buf, size_t size)
{
	snprintf(buf, size, "%c%u", e->handle ? 'h' : 'k', e->key);
}

static inline long am_find(const struct amodel *m, bool handle,
			   unsigned int key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->lru[i].handle == handle && m->lru[i].key == key)
			return (long)i;
	return -1;
}

/* The live handle index whose id is @key's, or -1. */
static inline long am_handle_of(const struct amodel *m, sc_key_t key)
{
	for (size_t j = 0; j < m->nr_handles; j++)
		if (m->handle_alive[j] && m->handles[j].id == key.id)
			return (long)j;
	return -1;
}

/* ------------------------------------------------------------ S3-FIFO */

static inline void am_ghost_add(struct mghost *g, uint64_t h, bool main)
{
	size_t b = s3_bucket(h, g->buckets);

	s3_ghost_add(g->slot[b], &g->cursor[b], g->nr, h, main);
}

/* The ghost takes a returning key of @cost: "Adaptation" moves S's share. */
static inline bool am_ghost_take(struct amodel *m, uint64_t h, size_t cost)
{
	struct mghost *g = &m->ghost;
	size_t b = s3_bucket(h, g->buckets);
	int i = s3_ghost_find(g->slot[b], h);
	bool main;

	if (i < 0)
		return false;
	main = g->slot[b][i] & 1;
	m->small_target =
		(size_t)s3_adapt(m->small_target, m->limit, g->nr, main, cost);
	m->main_max = m->limit - m->small_target;
	g->slot[b][i] = 0;
	g->nr[main]--;
	return true;
}

/* As sc_cache_s3fifo_state() digests the cache's ghost. */
static inline uint64_t am_ghost_digest(const struct mghost *g)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t b = 0; b < g->buckets; b++) {
		for (int i = 0; i < S3_GHOST_WAYS; i++)
			h = (h ^ g->slot[b][i]) * 0x100000001b3ull;
		h = (h ^ g->cursor[b]) * 0x100000001b3ull;
	}
	return h;
}

/* The limit changed (or was set): S's share starts over. */
static inline void am_shares(struct amodel *m)
{
	m->small_max = (size_t)s3_small_max(m->limit);
	m->small_target = m->small_max;
	m->main_max = m->limit - m->small_target;
}

/* "Sizing": at the end of every operation; only @grow allocates. */
static inline void am_ghost_size(struct amodel *m, bool grow)
{
	struct mghost *g = &m->ghost;
	size_t sized;

	if (!m->s3fifo)
		return;
	if (!m->n) {
		memset(g, 0, sizeof(*g));
		return;
	}
	if (!grow ||
	    !s3_ghost_grow(g->buckets, g->sized, m->n, m->total, m->limit))
		return;
	sized = (size_t)s3_ghost_sized(m->n, m->total, m->limit);
	memset(g, 0, sizeof(*g));
	g->buckets = s3_ghost_buckets(sized);
	AM_CHECK(g->buckets <= AM_GHOST_MAX_BUCKETS, "ghost of %zu buckets",
		 g->buckets);
	g->sized = sized;
}

/* The array index of a queue's oldest entry, or -1. */
static inline long am_oldest_of(const struct amodel *m, bool main)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->lru[i].main == main)
			return (long)i;
	return -1;
}

static inline size_t am_queue_cost(const struct amodel *m, bool main)
{
	size_t cost = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->lru[i].main == main)
			cost += m->lru[i].cost;
	return cost;
}

/* Entry @i to its queue's new end (the array's end), now on @main. */
static inline void am_requeue(struct amodel *m, size_t i, bool main)
{
	struct ment e = m->lru[i];

	memmove(&m->lru[i], &m->lru[i + 1], (m->n - i - 1) * sizeof(e));
	e.main = main;
	m->lru[m->n - 1] = e;
}

/* "One eviction": the victim's index; the ghost hears of it already. */
static inline size_t am_victim_s3fifo(struct amodel *m)
{
	for (;;) {
		long i;

		if (am_queue_cost(m, true) > m->main_max ||
		    am_oldest_of(m, false) < 0) {
			i = am_oldest_of(m, true);
			if (!m->lru[i].freq) {
				if (m->ghost.buckets && !m->lru[i].handle)
					am_ghost_add(&m->ghost, m->lru[i].hash,
						     true);
				return (size_t)i;
			}
			m->lru[i].freq--;
			am_requeue(m, (size_t)i, true);
			continue;
		}
		i = am_oldest_of(m, false);
		if (m->lru[i].freq >= S3_MOVE_HITS) {
			m->lru[i].freq = 0;
			am_requeue(m, (size_t)i, true);
			continue;
		}
		if (m->ghost.buckets && !m->lru[i].handle)
			am_ghost_add(&m->ghost, m->lru[i].hash, false);
		return (size_t)i;
	}
}

/*
 * S3-FIFO admission of a new string key: *@main is the queue it starts
 * on; false: refused (the ghost now remembers it). Other policies: true.
 */
static inline bool am_admit(struct amodel *m, uint64_t hash, size_t cost,
			    bool *main)
{
	*main = false;
	if (!m->s3fifo)
		return true;
	if (!m->ghost.buckets) {
		*main = cost > m->small_max;
	} else if (am_ghost_take(m, hash, cost)) {
		*main = true;
	} else if (cost > m->small_max) {
		am_ghost_add(&m->ghost, hash, false);
		return false;
	}
	return true;
}

/* clear: S3-FIFO's S from its oldest, then M; the others from the oldest */
static inline void am_clear(struct amodel *m)
{
	long i;

	while (m->s3fifo && (i = am_oldest_of(m, false)) >= 0)
		am_drop(m, (size_t)i);
	while (m->n)
		am_drop(m, 0);
}

/* The index to evict next (the model is not empty). */
static inline size_t am_victim(struct amodel *m)
{
	size_t h;

	if (m->s3fifo) {
		size_t v = am_victim_s3fifo(m);
		size_t room = sizeof(m->evicted) - m->evicted_len;
		char name[32];

		am_ment_name(&m->lru[v], name, sizeof(name));
		if (m->log_evicted && room > strlen(name) + 1)
			m->evicted_len += (size_t)snprintf(
				m->evicted + m->evicted_len, room, " %s", name);
		return v;
	}
	if (!m->sieve)
		return 0;
	h = m->hand < 0 ? 0 : (size_t)m->hand;
	while (m->lru[h].visited) {
		m->lru[h].visited = false;
		if (++h == m->n)
			h = 0;
	}
	m->hand = (long)h;
	return h;
}

/* Evict down to @limit. Return: how many entries went. */
static inline unsigned long am_evict(struct amodel *m, size_t limit)
{
	unsigned long n = 0;

	while (m->total > limit && m->n) {
		am_drop(m, am_victim(m));
		n++;
	}
	return n;
}

#endif /* SC_SELFTESTS_CACHE_ARRAY_MODEL_H */
